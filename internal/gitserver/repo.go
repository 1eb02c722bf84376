package gitserver

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Repo builds history in one bare repository on the server's disk. What it
// writes is visible to clients at once, as if it had been pushed. It is safe
// for concurrent use.
type Repo struct {
	name string
	dir  string
	git  string

	mu    sync.Mutex
	clock int // commits made so far, for deterministic times
}

// Name is the repository's name without ".git".
func (r *Repo) Name() string { return r.name }

// Dir is the bare repository's directory (usable as a local or file:// URL).
func (r *Repo) Dir() string { return r.dir }

// baseTime starts the deterministic commit clock, so the same builder calls
// give the same SHAs on every run.
var baseTime = time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)

type commitSpec struct {
	branch  string
	message string
	author  string
	email   string
	when    time.Time
	parent  string
	orphan  bool
	changes []change
	err     error // from an option that read the disk
}

type change struct {
	path    string
	mode    string // 100644, 100755 or 120000; empty for a deletion
	content []byte
}

// CommitOption shapes one commit.
type CommitOption func(*commitSpec)

// WithFile writes a regular file.
func WithFile(path, content string) CommitOption {
	return func(c *commitSpec) {
		c.changes = append(c.changes, change{path: path, mode: "100644", content: []byte(content)})
	}
}

// WithExecutable writes an executable file.
func WithExecutable(path, content string) CommitOption {
	return func(c *commitSpec) {
		c.changes = append(c.changes, change{path: path, mode: "100755", content: []byte(content)})
	}
}

// WithSymlink writes a symbolic link pointing at target.
func WithSymlink(path, target string) CommitOption {
	return func(c *commitSpec) {
		c.changes = append(c.changes, change{path: path, mode: "120000", content: []byte(target)})
	}
}

// WithDir copies every regular file under dir (a directory on disk) into the
// commit under prefix.
func WithDir(dir, prefix string) CommitOption {
	return func(c *commitSpec) {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			c.changes = append(c.changes, change{path: filepath.ToSlash(filepath.Join(prefix, rel)), mode: "100644", content: b})
			return nil
		})
		if err != nil {
			c.err = fmt.Errorf("copy %s into commit: %w", dir, err)
		}
	}
}

// WithoutFile deletes a path.
func WithoutFile(path string) CommitOption {
	return func(c *commitSpec) { c.changes = append(c.changes, change{path: path}) }
}

// OnBranch commits to branch instead of main.
func OnBranch(branch string) CommitOption { return func(c *commitSpec) { c.branch = branch } }

// WithParent makes sha the parent instead of the branch tip; the branch is
// moved to the new commit even when that is not a fast-forward.
func WithParent(sha string) CommitOption { return func(c *commitSpec) { c.parent = sha } }

// Orphan starts an unrelated history: no parent and an empty tree to which
// the commit's files are added. The branch is moved to it.
func Orphan() CommitOption { return func(c *commitSpec) { c.orphan = true } }

// WithAuthor sets the author (and committer) name and e-mail.
func WithAuthor(name, email string) CommitOption {
	return func(c *commitSpec) { c.author, c.email = name, email }
}

// At sets the commit time instead of the builder's clock.
func At(t time.Time) CommitOption { return func(c *commitSpec) { c.when = t } }

// Commit makes one commit and returns its SHA.
func (r *Repo) Commit(message string, opts ...CommitOption) (string, error) {
	shas, err := r.CommitMany(1, func(int) (string, []CommitOption) { return message, opts })
	if err != nil {
		return "", err
	}
	return shas[0], nil
}

// CommitMany makes n commits in one `git fast-import` run, each described by
// next(i), and returns their SHAs in order. Commits chain on their branch.
func (r *Repo) CommitMany(n int, next func(i int) (message string, opts []CommitOption)) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var stream bytes.Buffer
	tips := map[string]string{} // branch → parent for the next commit on it
	for i := range n {
		msg, opts := next(i)
		spec := commitSpec{branch: "main", message: msg, author: "Ferry Test", email: "test@ferry.invalid"}
		for _, o := range opts {
			o(&spec)
		}
		if spec.err != nil {
			return nil, spec.err
		}
		if spec.when.IsZero() {
			r.clock++
			spec.when = baseTime.Add(time.Duration(r.clock) * time.Minute)
		}
		from, ok := tips[spec.branch]
		if !ok {
			tip, err := r.resolve("refs/heads/" + spec.branch)
			if err != nil {
				return nil, err
			}
			from = tip
		}
		if spec.parent != "" {
			from = spec.parent
		}
		if spec.orphan {
			from = ""
		}
		writeCommit(&stream, i+1, spec, from)
		tips[spec.branch] = ":" + strconv.Itoa(i+1)
	}
	marks, err := os.CreateTemp("", "gitserver-marks-*")
	if err != nil {
		return nil, fmt.Errorf("marks file: %w", err)
	}
	marks.Close()
	defer os.Remove(marks.Name())
	cmd := exec.Command(r.git, "fast-import", "--quiet", "--force", "--export-marks="+marks.Name())
	cmd.Dir = r.dir
	cmd.Stdin = &stream
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git fast-import in %s: %w: %s", r.dir, err, out)
	}
	return readMarks(marks.Name(), n)
}

func writeCommit(w *bytes.Buffer, mark int, c commitSpec, from string) {
	who := fmt.Sprintf("%s <%s> %d +0000", c.author, c.email, c.when.Unix())
	fmt.Fprintf(w, "commit refs/heads/%s\nmark :%d\nauthor %s\ncommitter %s\n", c.branch, mark, who, who)
	fmt.Fprintf(w, "data %d\n%s\n", len(c.message), c.message)
	if from != "" {
		fmt.Fprintf(w, "from %s\n", from)
	} else {
		w.WriteString("deleteall\n")
	}
	for _, ch := range c.changes {
		if ch.mode == "" {
			fmt.Fprintf(w, "D %s\n", quotePath(ch.path))
			continue
		}
		fmt.Fprintf(w, "M %s inline %s\ndata %d\n", ch.mode, quotePath(ch.path), len(ch.content))
		w.Write(ch.content)
		w.WriteString("\n")
	}
	w.WriteString("\n")
}

// quotePath quotes a path the way fast-import reads C-style strings, needed
// only when it has spaces, quotes or control characters.
func quotePath(p string) string {
	if !strings.ContainsAny(p, " \"\\\n\t") {
		return p
	}
	return strconv.Quote(p)
}

func readMarks(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read marks: %w", err)
	}
	defer f.Close()
	shas := make([]string, n)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mark, sha, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(mark, ":"))
		if err != nil || i < 1 || i > n {
			continue
		}
		shas[i-1] = sha
	}
	for i, s := range shas {
		if s == "" {
			return nil, fmt.Errorf("fast-import gave no SHA for commit %d", i+1)
		}
	}
	return shas, sc.Err()
}

// resolve returns the SHA a ref points at, or "" when it does not exist.
func (r *Repo) resolve(ref string) (string, error) {
	out, err := exec.Command(r.git, "-C", r.dir, "for-each-ref", "--format=%(objectname)", ref).Output()
	if err != nil {
		return "", fmt.Errorf("git for-each-ref %s: %w", ref, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Head returns the SHA branch points at, "" when the branch does not exist.
func (r *Repo) Head(branch string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resolve("refs/heads/" + branch)
}

// SetBranch points branch at sha, as a force-push would.
func (r *Repo) SetBranch(branch, sha string) error {
	return r.updateRef("refs/heads/"+branch, sha)
}

// Tag creates or moves the lightweight tag name to sha.
func (r *Repo) Tag(name, sha string) error {
	return r.updateRef("refs/tags/"+name, sha)
}

// DeleteBranch removes branch, as `git push origin :branch` would.
func (r *Repo) DeleteBranch(branch string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if out, err := exec.Command(r.git, "-C", r.dir, "update-ref", "-d", "refs/heads/"+branch).CombinedOutput(); err != nil {
		return fmt.Errorf("delete branch %s: %w: %s", branch, err, out)
	}
	return nil
}

func (r *Repo) updateRef(ref, sha string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if out, err := exec.Command(r.git, "-C", r.dir, "update-ref", ref, sha).CombinedOutput(); err != nil {
		return fmt.Errorf("update %s to %s: %w: %s", ref, sha, err, out)
	}
	return nil
}
