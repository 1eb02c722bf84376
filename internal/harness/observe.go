package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
)

// CLI runs `ferry args...` against the run's ferry as user (an API token
// holder: Alice or Bob) and returns its standard output. The token travels
// in FERRY_TOKEN, never on the command line.
func (w *World) CLI(ctx context.Context, user string, args ...string) (string, error) {
	tok, ok := w.secrets.apiTokens[user]
	if !ok {
		return "", fmt.Errorf("harness: no API token for user %q", user)
	}
	cmd := exec.CommandContext(ctx, w.Binary, args...)
	cmd.Dir = w.Dir
	cmd.Env = append(os.Environ(), "FERRY_SERVER="+w.APIURL, "FERRY_TOKEN="+tok)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("harness: ferry %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// History is `ferry history ENV -o json`: the environment's promotions,
// newest first.
func (w *World) History(ctx context.Context, env string) ([]ferry.Promotion, error) {
	out, err := w.CLI(ctx, Alice, "history", env, "-o", "json")
	if err != nil {
		return nil, err
	}
	var proms []ferry.Promotion
	if err := json.Unmarshal([]byte(out), &proms); err != nil {
		return nil, fmt.Errorf("harness: ferry history %s -o json: %w", env, err)
	}
	return proms, nil
}

// Status is `ferry status -o json`.
func (w *World) Status(ctx context.Context) ([]ferry.EnvironmentStatus, error) {
	out, err := w.CLI(ctx, Alice, "status", "-o", "json")
	if err != nil {
		return nil, err
	}
	var st []ferry.EnvironmentStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("harness: ferry status -o json: %w", err)
	}
	return st, nil
}

// PromotionOf returns the newest promotion of sha in proms (newest first).
func PromotionOf(proms []ferry.Promotion, sha string) (ferry.Promotion, bool) {
	for _, p := range proms {
		if p.Revision.SHA == sha {
			return p, true
		}
	}
	return ferry.Promotion{}, false
}

// WaitFor polls ferry's API until the newest promotion of sha in env is in
// one of phases, and returns it. It fails at once when that promotion ends
// in a phase not asked for, with its reason and gate results, and when ctx
// ends, with where it stood.
func (w *World) WaitFor(ctx context.Context, env, sha string, phases ...ferry.Phase) (ferry.Promotion, error) {
	last := "no promotion yet"
	for {
		proms, err := w.API.History(ctx, w.Pipeline, env, 0)
		if err != nil {
			last = "history: " + err.Error()
		} else if p, ok := PromotionOf(proms, sha); ok {
			for _, want := range phases {
				if p.Phase == want {
					return p, nil
				}
			}
			if p.Phase.IsTerminal() {
				return p, fmt.Errorf("%s in %s ended %s, want %s: %s%s", short(sha), env, p.Phase, phaseList(phases), p.Reason, Gates(p))
			}
			last = fmt.Sprintf("%s: %s", p.Phase, p.Reason)
		}
		select {
		case <-ctx.Done():
			return ferry.Promotion{}, fmt.Errorf("%s in %s not %s in time (%s)", short(sha), env, phaseList(phases), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func phaseList(phases []ferry.Phase) string {
	s := make([]string, len(phases))
	for i, p := range phases {
		s[i] = string(p)
	}
	return strings.Join(s, " or ")
}

// Gates formats a promotion's gate results, one per line, for messages.
func Gates(p ferry.Promotion) string {
	var b strings.Builder
	for _, g := range p.Gates {
		fmt.Fprintf(&b, "\n      %s %s: %s", g.Gate, g.Verdict, g.Reason)
	}
	return b.String()
}

// Gate returns a promotion's result of one gate.
func Gate(p ferry.Promotion, gate string) (ferry.GateResult, bool) {
	for _, g := range p.Gates {
		if g.Gate == gate {
			return g, true
		}
	}
	return ferry.GateResult{}, false
}

// Environment returns the run's config of one environment.
func (w *World) Environment(name string) (*config.Environment, error) {
	e, err := w.Config.Pipelines[0].Environment(name)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	return e, nil
}

// HelmRevision is one revision of a Helm release as Helm's storage Secret
// records it, with the labels ferry adds.
type HelmRevision struct {
	Version int
	// Status is Helm's: deployed, superseded, failed, pending-upgrade...
	Status string
	// SHA is the Git revision ferry rendered it from; Digest the short
	// render digest; Good whether it passed verification.
	SHA    string
	Digest string
	Good   bool
}

// HelmHistory reads an environment's Helm release records, oldest first.
func (w *World) HelmHistory(ctx context.Context, env string) ([]HelmRevision, error) {
	e, err := w.Environment(env)
	if err != nil {
		return nil, err
	}
	list, err := w.Kube.CoreV1().Secrets(e.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + e.Release})
	if err != nil {
		return nil, fmt.Errorf("harness: Helm records of %s in %s: %w", e.Release, e.Namespace, err)
	}
	var out []HelmRevision
	for _, s := range list.Items {
		v, err := strconv.Atoi(s.Labels["version"])
		if err != nil {
			return nil, fmt.Errorf("harness: Helm record %s has version %q", s.Name, s.Labels["version"])
		}
		out = append(out, HelmRevision{
			Version: v, Status: s.Labels["status"], SHA: s.Labels[deploy.LabelRevision],
			Digest: s.Labels[deploy.LabelDigest], Good: s.Labels[deploy.LabelGood] == "true",
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Deployed returns the release's deployed Helm revision.
func (w *World) Deployed(ctx context.Context, env string) (HelmRevision, error) {
	hist, err := w.HelmHistory(ctx, env)
	if err != nil {
		return HelmRevision{}, err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Status == "deployed" {
			return hist[i], nil
		}
	}
	return HelmRevision{}, fmt.Errorf("harness: no deployed Helm revision in %s (%d records)", env, len(hist))
}

// Container reads a container of the chart's Deployment
// <release>-<component> in env as the API server stores it.
func (w *World) Container(ctx context.Context, env, component, container string) (corev1.Container, error) {
	e, err := w.Environment(env)
	if err != nil {
		return corev1.Container{}, err
	}
	name := e.Release + "-" + component
	d, err := w.Kube.AppsV1().Deployments(e.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return corev1.Container{}, fmt.Errorf("harness: Deployment %s/%s: %w", e.Namespace, name, err)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == container {
			return c, nil
		}
	}
	return corev1.Container{}, fmt.Errorf("harness: Deployment %s/%s has no container %s", e.Namespace, name, container)
}

// CPURequest reads the live CPU request of a container of the chart's
// Deployment <release>-<component> in env.
func (w *World) CPURequest(ctx context.Context, env, component, container string) (string, error) {
	c, err := w.Container(ctx, env, component, container)
	if err != nil {
		return "", err
	}
	return c.Resources.Requests.Cpu().String(), nil
}

// ReplicaFailures returns the messages of the ReplicaFailure conditions
// (the controller's FailedCreate, such as a quota refusal) of the
// ReplicaSets of the chart's Deployment <release>-<component> in env.
func (w *World) ReplicaFailures(ctx context.Context, env, component string) ([]string, error) {
	e, err := w.Environment(env)
	if err != nil {
		return nil, err
	}
	name := e.Release + "-" + component
	d, err := w.Kube.AppsV1().Deployments(e.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("harness: Deployment %s/%s: %w", e.Namespace, name, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("harness: selector of Deployment %s/%s: %w", e.Namespace, name, err)
	}
	rss, err := w.Kube.AppsV1().ReplicaSets(e.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("harness: ReplicaSets of %s/%s: %w", e.Namespace, name, err)
	}
	var out []string
	for _, rs := range rss.Items {
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				out = append(out, fmt.Sprintf("ReplicaSet %s %s: %s", rs.Name, c.Reason, c.Message))
			}
		}
	}
	return out, nil
}
