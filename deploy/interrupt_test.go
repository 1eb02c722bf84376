package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/internal/localcluster"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// childEnv carries a childJob to the test binary started again by
// startChild: the process that applies, so that a test can kill it.
const childEnv = "FERRY_DEPLOY_TEST_CHILD"

// childJob is one apply for a child process to make.
type childJob struct {
	Kubeconfig string
	Namespace  string
	Release    string
	Rev        int
	Chart      string
	Set        []string
}

// childOutcome is what the child prints on stdout when Apply returns.
type childOutcome struct {
	Action   Action
	Revision int
	Err      string
	// Canceled is whether the error wraps context.Canceled.
	Canceled bool
}

// runChild applies the job as ferry does, with SIGTERM cancelling the
// apply's context, and prints the outcome as JSON. Its exit code says only
// whether it could report.
func runChild(jobJSON string) int {
	var job childJob
	if err := json.Unmarshal([]byte(jobJSON), &job); err != nil {
		fmt.Fprintln(os.Stderr, "child job:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	c, err := NewClient(Target{Kubeconfig: job.Kubeconfig, Namespace: job.Namespace, Release: job.Release})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child client:", err)
		return 2
	}
	r, err := Render(ctx, os.DirFS(applyRepo), RenderSpec{Chart: job.Chart, Set: job.Set, Release: job.Release, Namespace: job.Namespace})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child render:", err)
		return 2
	}
	var out childOutcome
	res, err := c.Apply(ctx, testRev(job.Rev), r)
	if res != nil {
		out.Action, out.Revision = res.Action, res.Revision
	}
	if err != nil {
		out.Err, out.Canceled = err.Error(), errors.Is(err, context.Canceled)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "child outcome:", err)
		return 2
	}
	return 0
}

// helmCancelRace marks Helm v3's own data race between an upgrade whose
// context is cancelled (handleContext → failRelease writes the release) and
// the hook execution still recording it (helm/helm#13637). ferry cannot
// avoid it when it must stop waiting; recovery of the record it may leave is
// what ferry owns and tests.
const helmCancelRace = "helm.sh/helm/v3/pkg/action.(*Upgrade).handleContext"

// racesOutsideHelmCancel returns the race detector's reports in stderr that
// are not Helm's cancellation race.
func racesOutsideHelmCancel(stderr string) []string {
	const mark = "WARNING: DATA RACE"
	var bad []string
	for _, report := range strings.Split(stderr, mark)[1:] {
		report, _, _ = strings.Cut(report, "==================")
		if !strings.Contains(report, helmCancelRace) {
			bad = append(bad, mark+report)
		}
	}
	return bad
}

// child is a running child process.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

// startChild starts this test binary as a child applying job.
func startChild(t *testing.T, job childJob) *child {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ch := &child{done: make(chan struct{})}
	ch.cmd = exec.Command(os.Args[0])
	// Under -race the child keeps its exit status; its race reports are
	// judged by helmRaceOnly instead.
	ch.cmd.Env = append(os.Environ(), childEnv+"="+string(b), "GORACE=exitcode=0")
	ch.cmd.Stdout, ch.cmd.Stderr = &ch.stdout, &ch.stderr
	if err := ch.cmd.Start(); err != nil {
		t.Fatalf("start the applying process: %v", err)
	}
	go func() {
		ch.err = ch.cmd.Wait()
		close(ch.done)
	}()
	t.Cleanup(func() {
		_ = ch.cmd.Process.Kill()
		<-ch.done
	})
	return ch
}

// waitHookRunning polls until the release's latest revision is
// pending-upgrade and its pre-upgrade hook Job has a Ready pod: Helm is then
// waiting on the hook, which the local cluster never completes.
func waitHookRunning(t *testing.T, c *Client, ch *child, job string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	var why string
	for {
		why = hookWaitState(ctx, c, job)
		if why == "" {
			return
		}
		select {
		case <-ch.done:
			t.Fatalf("the applying process ended before Helm waited on the hook (%v): %s\nstdout: %s\nstderr: %s", ch.err, why, &ch.stdout, &ch.stderr)
		case <-ctx.Done():
			t.Fatalf("Helm never waited on the hook: %s\nstderr: %s", why, &ch.stderr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// hookWaitState says what is still missing for Helm to be waiting on the
// hook Job, "" when nothing is.
func hookWaitState(ctx context.Context, c *Client, job string) string {
	h, err := c.history()
	if err != nil {
		return err.Error()
	}
	s := observe(h, "")
	if st := status(s.last); st != release.StatusPendingUpgrade {
		return fmt.Sprintf("latest revision is %s", st)
	}
	pods, err := c.kube.CoreV1().Pods(c.target.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + job})
	if err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return ""
			}
		}
	}
	return fmt.Sprintf("no Ready pod of Job %s among %d", job, len(pods.Items))
}

// A process applying revision 2 is signalled while Helm waits on the
// revision's pre-upgrade hook, a Job the local cluster keeps running. Killed
// (SIGKILL), it leaves revision 2 pending-upgrade, and the next Apply marks
// it failed, rolls back to revision 1 and then upgrades. Asked to stop
// (SIGTERM), it stops waiting and leaves revision 2 failed, never pending,
// so the next Apply simply upgrades.
func TestInterruptedApply(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	tests := []struct {
		name string
		sig  syscall.Signal
		// interrupted is the history once the child has gone.
		interrupted string
		// rev2 is revision 2's description once the next Apply is done.
		rev2      string
		recovered []string
		revision  int
		final     string
	}{
		{
			name: "SIGKILL leaves pending-upgrade and the next apply recovers", sig: syscall.SIGKILL,
			interrupted: "1:deployed 2:pending-upgrade",
			rev2:        "ferry: found pending-upgrade with no operation running (the process applying it stopped); marked failed",
			recovered:   []string{"revision 2 was left pending-upgrade by an interrupted operation: marked failed and rolled back to revision 1 (now revision 3)"},
			revision:    4,
			final:       "1:superseded 2:failed 3:superseded 4:deployed",
		},
		{
			name: "SIGTERM stops waiting and leaves failed", sig: syscall.SIGTERM,
			interrupted: "1:deployed 2:failed",
			rev2:        `Upgrade "web" failed: context canceled`,
			revision:    3,
			final:       "1:superseded 2:failed 3:deployed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := lc.Namespace(t, nil)
			c, _ := testClient(t, lc, ns, "web", nil)
			mustApply(t, c, 1, renderInput(t, "web", ns, webChart()))

			hanging := []string{"greeting=two", "hook.enabled=true", "hook.simulate=hang"}
			ch := startChild(t, childJob{Kubeconfig: lc.Kubeconfig, Namespace: ns, Release: "web", Rev: 2, Chart: "charts/web", Set: hanging})
			waitHookRunning(t, c, ch, "web-migrate")
			if err := ch.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ch.done:
			case <-time.After(healthTimeout):
				t.Fatalf("the applying process did not end after %s; stderr:\n%s", tt.sig, &ch.stderr)
			}
			if tt.sig == syscall.SIGTERM {
				if ch.err != nil {
					t.Errorf("child ended with %v after SIGTERM; stderr:\n%s", ch.err, &ch.stderr)
				}
				if bad := racesOutsideHelmCancel(ch.stderr.String()); len(bad) > 0 {
					t.Errorf("the race detector found %d races in the child besides Helm's own; first:\n%s", len(bad), bad[0])
				}
				var out childOutcome
				if err := json.Unmarshal(ch.stdout.Bytes(), &out); err != nil {
					t.Fatalf("child outcome %q (%v): %v\nstderr: %s", ch.stdout.String(), ch.err, err, &ch.stderr)
				}
				want := childOutcome{Revision: 2, Err: "upgrade of release web stopped: terminated signal received", Canceled: true}
				if out != want {
					t.Errorf("child apply = %+v, want %+v", out, want)
				}
			} else if ch.stdout.Len() != 0 {
				t.Errorf("killed child reported %q", ch.stdout.String())
			}
			if got := statuses(historyOf(t, c)); got != tt.interrupted {
				t.Fatalf("history after %s = %s, want %s", tt.sig, got, tt.interrupted)
			}

			r := renderInput(t, "web", ns, webChart("greeting=three", "hook.enabled=true"))
			res := mustApply(t, c, 3, r)
			if res.Action != ActionUpgraded || res.Revision != tt.revision || strings.Join(res.Recovered, "|") != strings.Join(tt.recovered, "|") {
				t.Errorf("apply after %s = %+v, want upgraded to revision %d, recovered %q", tt.sig, res, tt.revision, tt.recovered)
			}
			h := historyOf(t, c)
			if got := statuses(h); got != tt.final {
				t.Errorf("history = %s, want %s", got, tt.final)
			}
			if got := h[1].Info.Description; got != tt.rev2 {
				t.Errorf("revision 2 description = %q, want %q", got, tt.rev2)
			}
			if tt.sig == syscall.SIGKILL {
				want := "ferry recover: revision 2 was left pending-upgrade; rolled back to revision 1"
				if got := h[2].Info.Description; got != want {
					t.Errorf("revision 3 description = %q, want %q", got, want)
				}
			}
			last := h[len(h)-1]
			if want := description("upgrade", testRev(3)); last.Info.Description != want {
				t.Errorf("revision %d description = %q, want %q", last.Version, last.Info.Description, want)
			}
			if got := appliedManifest(last); got != r.Manifest {
				t.Errorf("revision %d differs from the render at byte %d", last.Version, diffOffset(got, r.Manifest))
			}
			mustBeHealthy(t, c, r)
		})
	}
}

func TestRacesOutsideHelmCancel(t *testing.T) {
	helm := "==================\nWARNING: DATA RACE\nWrite at 0x1 by goroutine 34:\n  helm.sh/helm/v3/pkg/action.(*Upgrade).failRelease()\n  helm.sh/helm/v3/pkg/action.(*Upgrade).handleContext()\n==================\n"
	ours := "==================\nWARNING: DATA RACE\nWrite at 0x2 by goroutine 7:\n  github.com/ferry-gitops/ferry/deploy.(*Client).Apply()\n==================\n"
	for _, tc := range []struct {
		name   string
		stderr string
		want   int
	}{
		{"none", "", 0},
		{"Helm's cancellation race only", helm + helm, 0},
		{"one of ours among Helm's", helm + ours + helm, 1},
	} {
		if got := racesOutsideHelmCancel(tc.stderr); len(got) != tc.want {
			t.Errorf("%s: %d races outside Helm's, want %d: %q", tc.name, len(got), tc.want, got)
		}
	}
}
