package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	ferry "github.com/ferry-gitops/ferry"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Health judges every object of the render as it stands in the cluster now
// (hooks are not judged: they are gone once they succeeded). It satisfies
// promote.HealthChecker.
//
// kstatus decides first; ferry then corrects what kstatus cannot see: a
// claim Pending on a WaitForFirstConsumer class before any pod uses it is
// healthy, a suspended Job is healthy, and a workload that is not ready is
// followed to its current pods, where ImagePullBackOff and CrashLoopBackOff
// make it Unhealthy at once (reason and image named) and an unschedulable
// pod adds the scheduler's message to its reason. An error means no verdict
// could be had (the API server did not answer), not that the release is
// unhealthy.
func (c *Client) Health(ctx context.Context, r ferry.Rendered) (ferry.HealthVerdict, error) {
	v := ferry.HealthVerdict{Total: len(r.Objects)}
	for _, o := range r.Objects {
		oh, err := c.objectHealth(ctx, o.ObjectRef, r.Namespace)
		if err != nil {
			return ferry.HealthVerdict{}, fmt.Errorf("health of %s: %w", o.ObjectRef, err)
		}
		v.Objects = append(v.Objects, oh)
		if oh.Status == ferry.HealthHealthy {
			v.Ready++
		}
	}
	summarize(&v)
	return v, nil
}

// WaitHealthy asks Health every poll interval until the release is Healthy,
// something in it is Unhealthy (a pod in ImagePullBackOff or
// CrashLoopBackOff ends the wait early), or timeout passes; progress, when
// not nil, is told each verdict that differs from the one before (objects
// ready of total, which object is waited for). At the timeout the last
// verdict is returned as Unhealthy, its reason prefixed with "not healthy
// within <timeout>". The error is non-nil only when ctx ended or no verdict
// was had at all.
func (c *Client) WaitHealthy(ctx context.Context, r ferry.Rendered, timeout time.Duration, progress func(ferry.HealthVerdict)) (ferry.HealthVerdict, error) {
	wait, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(c.pollInterval)
	defer tick.Stop()
	var (
		last    ferry.HealthVerdict
		have    bool
		lastErr error
	)
	for {
		v, err := c.Health(wait, r)
		switch {
		case err == nil:
			if progress != nil && (!have || v.Ready != last.Ready || v.Reason != last.Reason) {
				progress(v)
			}
			last, have = v, true
			if v.Status == ferry.HealthHealthy || v.Status == ferry.HealthUnhealthy {
				return v, nil
			}
		case wait.Err() == nil:
			lastErr = err
		}
		select {
		case <-tick.C:
			continue
		case <-wait.Done():
		}
		break
	}
	switch {
	case ctx.Err() != nil:
		return last, fmt.Errorf("health of release %s stopped: %w", r.Release, context.Cause(ctx))
	case !have:
		return last, fmt.Errorf("no health verdict for release %s within %s: %w", r.Release, timeout, lastErr)
	}
	last.Status = ferry.HealthUnhealthy
	last.Reason = fmt.Sprintf("not healthy within %s: %s", timeout, last.Reason)
	return last, nil
}

// summarize sets the release's status, the worst of its objects', and a
// one-line reason naming the first object that is not healthy.
func summarize(v *ferry.HealthVerdict) {
	rank := map[ferry.HealthStatus]int{ferry.HealthHealthy: 0, ferry.HealthProgressing: 1, ferry.HealthUnknown: 2, ferry.HealthUnhealthy: 3}
	v.Status = ferry.HealthHealthy
	var worst *ferry.ObjectHealth
	for i := range v.Objects {
		o := &v.Objects[i]
		if rank[o.Status] > rank[v.Status] {
			v.Status, worst = o.Status, o
		}
	}
	if worst == nil {
		v.Reason = fmt.Sprintf("%d/%d objects healthy", v.Ready, v.Total)
		return
	}
	verb := "waiting for"
	if worst.Status == ferry.HealthUnhealthy {
		verb = "failed:"
	}
	v.Reason = fmt.Sprintf("%d/%d ready; %s %s: %s", v.Ready, v.Total, verb, worst.Ref, worst.Reason)
}

// objectHealth reads one object and judges it. A missing object, or one
// whose kind the cluster does not serve, is Unhealthy: the apply created it.
func (c *Client) objectHealth(ctx context.Context, ref ferry.ObjectRef, namespace string) (ferry.ObjectHealth, error) {
	obj, ok, err := c.cluster.get(ctx, ref, namespace)
	if err != nil {
		return ferry.ObjectHealth{}, err
	}
	if !ok {
		if ref.Namespace == "" {
			ref.Namespace = namespace
		}
		return ferry.ObjectHealth{Ref: ref, Status: ferry.HealthUnhealthy, Reason: "not found in the cluster"}, nil
	}
	return c.judge(ctx, obj.ObjectRef, &unstructured.Unstructured{Object: obj.Content})
}

// judge combines kstatus's verdict with what ferry knows better.
func (c *Client) judge(ctx context.Context, ref ferry.ObjectRef, u *unstructured.Unstructured) (ferry.ObjectHealth, error) {
	oh := ferry.ObjectHealth{Ref: ref}
	res, err := kstatus.Compute(u)
	if err != nil {
		oh.Status, oh.Reason = ferry.HealthUnknown, "status cannot be computed: "+err.Error()
		return oh, nil
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		oh.Status = ferry.HealthHealthy
	case kstatus.FailedStatus:
		oh.Status, oh.Reason = ferry.HealthUnhealthy, res.Message
	case kstatus.InProgressStatus, kstatus.TerminatingStatus:
		oh.Status, oh.Reason = ferry.HealthProgressing, res.Message
	default:
		oh.Status, oh.Reason = ferry.HealthUnknown, res.Message
	}

	gk := u.GroupVersionKind().GroupKind()
	switch gk {
	case schema.GroupKind{Kind: "PersistentVolumeClaim"}:
		if oh.Status != ferry.HealthHealthy {
			return c.claimHealth(ctx, oh, u)
		}
	case schema.GroupKind{Group: "batch", Kind: "Job"}, schema.GroupKind{Group: "batch", Kind: "CronJob"}:
		if suspended, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); suspended {
			oh.Status, oh.Reason = ferry.HealthHealthy, "suspended"
			return oh, nil
		}
	}
	if oh.Status == ferry.HealthHealthy || !hasPods(gk) {
		return oh, nil
	}
	// The controller's refusal to create pods (a quota exceeded, a policy
	// denied) leaves no pod to read a reason from; the Deployment and
	// ReplicaSet carry it as their ReplicaFailure condition. It may clear
	// as old pods go, so it is not fatal on its own.
	if f := replicaFailure(u); f != "" {
		oh.Reason = joinReason(oh.Reason, f)
	}
	pods, err := c.currentPods(ctx, u)
	if err != nil {
		return oh, err
	}
	if p := podProblem(pods); p.text != "" {
		if p.fatal {
			oh.Status = ferry.HealthUnhealthy
		}
		oh.Reason = joinReason(oh.Reason, p.text)
	}
	return oh, nil
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// replicaFailure is the reason and message of a workload's ReplicaFailure
// condition when it is true, else "".
func replicaFailure(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "ReplicaFailure" || m["status"] != "True" {
			continue
		}
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return strings.TrimSpace(reason + ": " + msg)
	}
	return ""
}
