package harness

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/internal/gitserver"
)

// Author of the story's commits.
const (
	AuthorName  = "Dana Developer"
	AuthorEmail = "dana@vibecode.example"
)

// Edit changes one file of the repository in a commit: one YAML value (Key
// and Value), one piece of text (Old and New) or the whole file (Content,
// which may create it).
type Edit struct {
	File string
	// Key is a dotted path of mapping keys (codeServer.resources.requests.cpu);
	// mappings on the way are created when missing. Value is the new value
	// as YAML text (`200m`, `"3"`).
	Key, Value string
	// Old, which must occur exactly once in the file, is replaced by New.
	Old, New string
	// Content, when neither Key nor Old is set, is the file's new content.
	Content string
}

// WriteFile is an Edit giving file the content, creating it if needed.
func WriteFile(file, content string) Edit { return Edit{File: file, Content: content} }

// SetValue is an Edit setting one YAML value of file.
func SetValue(file, key, value string) Edit { return Edit{File: file, Key: key, Value: value} }

// Replace is an Edit replacing the one occurrence of old in file with new.
func Replace(file, old, new string) Edit { return Edit{File: file, Old: old, New: new} }

// String says what the edit does, for logs.
func (e Edit) String() string {
	switch {
	case e.Key != "":
		return fmt.Sprintf("%s: %s = %s", e.File, e.Key, e.Value)
	case e.Old != "":
		return fmt.Sprintf("%s: text edited", e.File)
	}
	return fmt.Sprintf("%s: written", e.File)
}

// Head is the SHA the tracked branch points at.
func (w *World) Head() (string, error) {
	branch := w.Config.Pipelines[0].Source.Branch
	sha, err := w.Repo.Head(branch)
	if err != nil {
		return "", fmt.Errorf("harness: head of %s: %w", branch, err)
	}
	return sha, nil
}

// FileAt returns a file's content at rev (a SHA or branch).
func (w *World) FileAt(ctx context.Context, rev, path string) (string, error) {
	out, err := w.git(ctx, "show", rev+":"+path)
	if err != nil {
		return "", err
	}
	return out, nil
}

// git runs git in the bare repository and returns its output.
func (w *World) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", w.Repo.Dir()}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("harness: git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Push commits edits on the tracked branch, as a developer's push would
// land, and returns the new SHA. Nothing tells ferry: it finds the commit on
// its next poll, or at once after Webhook.
func (w *World) Push(ctx context.Context, message string, edits ...Edit) (string, error) {
	branch := w.Config.Pipelines[0].Source.Branch
	changed := map[string]string{}
	var order []string
	for _, e := range edits {
		content, ok := changed[e.File]
		if !ok && e.Key == "" && e.Old == "" {
			order = append(order, e.File)
		} else if !ok {
			var err error
			if content, err = w.FileAt(ctx, branch, e.File); err != nil {
				return "", err
			}
			order = append(order, e.File)
		}
		next, err := applyEdit(content, e)
		if err != nil {
			return "", fmt.Errorf("harness: %s: %w", e, err)
		}
		changed[e.File] = next
	}
	opts := []gitserver.CommitOption{gitserver.WithAuthor(AuthorName, AuthorEmail)}
	for _, f := range order {
		opts = append(opts, gitserver.WithFile(f, changed[f]))
	}
	sha, err := w.Repo.Commit(message, opts...)
	if err != nil {
		return "", fmt.Errorf("harness: commit %q: %w", message, err)
	}
	return sha, nil
}

// Revert commits, on the tracked branch, the files sha changed as they were
// before it, and returns the new SHA.
func (w *World) Revert(ctx context.Context, sha, message string) (string, error) {
	out, err := w.git(ctx, "diff-tree", "--no-commit-id", "--name-only", "-r", sha)
	if err != nil {
		return "", err
	}
	opts := []gitserver.CommitOption{gitserver.WithAuthor(AuthorName, AuthorEmail)}
	for _, path := range strings.Fields(out) {
		before, err := w.FileAt(ctx, sha+"^", path)
		if err != nil {
			return "", err
		}
		opts = append(opts, gitserver.WithFile(path, before))
	}
	rev, err := w.Repo.Commit(message, opts...)
	if err != nil {
		return "", fmt.Errorf("harness: commit %q: %w", message, err)
	}
	return rev, nil
}

func applyEdit(content string, e Edit) (string, error) {
	if e.Key == "" && e.Old == "" {
		return e.Content, nil
	}
	if e.Key == "" {
		if n := strings.Count(content, e.Old); n != 1 {
			return "", fmt.Errorf("the text to replace occurs %d times, want once", n)
		}
		return strings.Replace(content, e.Old, e.New, 1), nil
	}
	return setYAML(content, e.Key, e.Value)
}

// setYAML sets the value at a dotted key path in a YAML document, keeping
// its comments.
func setYAML(content, key, value string) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(content), &doc); err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	var val yaml.Node
	if err := yaml.Unmarshal([]byte(value), &val); err != nil || len(val.Content) != 1 {
		return "", fmt.Errorf("value %q is not one YAML value", value)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return "", fmt.Errorf("the document is not a mapping")
	}
	node := doc.Content[0]
	parts := strings.Split(key, ".")
	for i, part := range parts {
		var next *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == part {
				next = node.Content[j+1]
				break
			}
		}
		last := i == len(parts)-1
		switch {
		case next == nil && last:
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: part}, val.Content[0])
		case next == nil:
			next = &yaml.Node{Kind: yaml.MappingNode}
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: part}, next)
		case last:
			v := val.Content[0]
			v.HeadComment, v.LineComment, v.FootComment = next.HeadComment, next.LineComment, next.FootComment
			*next = *v
		case next.Kind != yaml.MappingNode:
			return "", fmt.Errorf("%s is not a mapping", strings.Join(parts[:i+1], "."))
		}
		node = next
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return buf.String(), nil
}

// Webhook sends a push event for the tracked branch's head to ferry's
// /hooks/git/{pipeline}, signed with the webhook secret the way the
// configured provider (Gitea, in the fixture) signs it. It returns the
// status and body of the answer.
func (w *World) Webhook(ctx context.Context) (int, string, error) {
	head, err := w.Head()
	if err != nil {
		return 0, "", err
	}
	src := w.Config.Pipelines[0].Source
	body, err := json.Marshal(map[string]any{
		"ref":        "refs/heads/" + src.Branch,
		"after":      head,
		"repository": map[string]any{"name": RepoName, "full_name": "platform/" + RepoName},
		"pusher":     map[string]any{"login": "dana"},
	})
	if err != nil {
		return 0, "", fmt.Errorf("harness: webhook payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.APIURL+"/hooks/git/"+w.Pipeline, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("harness: webhook request: %w", err)
	}
	mac := hmac.New(sha256.New, []byte(w.secrets.webhook))
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	req.Header.Set("Content-Type", "application/json")
	switch src.Webhook.Provider {
	case config.WebhookGitea:
		req.Header.Set("X-Gitea-Event", "push")
		req.Header.Set("X-Gitea-Signature", sig)
	case config.WebhookGitHub:
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+sig)
	case config.WebhookGeneric:
		req.Header.Set("X-Ferry-Event", "push")
		req.Header.Set("X-Ferry-Signature-256", "sha256="+sig)
	default:
		return 0, "", fmt.Errorf("harness: webhook provider %q is not supported by the harness", src.Webhook.Provider)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("harness: send webhook: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(answer)), nil
}
