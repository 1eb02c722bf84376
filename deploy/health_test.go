package deploy

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	ferry "github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// Each case applies its renders in order on the local cluster (every step
// but the last must turn healthy first) and judges the last one. A timeout
// of two minutes bounds the cases that must end early: their reason must
// not be the timeout's ("not healthy within ..."). Where kstatus's own part
// of a reason depends on how far the controllers got ("Replicas: 0/1",
// "Updated: 0/1", "Deployment generation is 2, ..."), only ferry's part is
// pinned.
func TestHealthCases(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	tests := []struct {
		name    string
		steps   []input
		timeout time.Duration
		status  ferry.HealthStatus
		ready   string // "ready/total"
		// objects maps an object (Kind/name) to a pattern its reason must match.
		objects map[string]string
		reason  string // pattern of the verdict's reason
	}{
		{
			name:  "PVC on a WaitForFirstConsumer class with no consumer yet is healthy",
			steps: []input{rawCase("pvc-wffc.yaml")}, timeout: healthTimeout,
			status: ferry.HealthHealthy, ready: "1/1",
			objects: map[string]string{"PersistentVolumeClaim/data": `^Pending until a pod uses it \(StorageClass standard binds on first consumer\)$`},
			reason:  `^1/1 objects healthy$`,
		},
		{
			name:  "StatefulSet with a partition is healthy once the pods above it are updated",
			steps: []input{rawCase("sts-base.yaml"), rawCase("sts-partition.yaml")}, timeout: healthTimeout,
			status: ferry.HealthHealthy, ready: "1/1",
			objects: map[string]string{"StatefulSet/db": `^$`},
			reason:  `^1/1 objects healthy$`,
		},
		{
			name:  "Deployment of 1 replica with maxUnavailable 1 whose new pod crash-loops is not healthy",
			steps: []input{webChart(), webChart(`podLabels.localcluster\.ferry\.dev/simulate=crashloop`)}, timeout: healthTimeout,
			status: ferry.HealthUnhealthy, ready: "1/2",
			objects: map[string]string{"Deployment/web": `; pod web-[a-z0-9]+-[a-z0-9]+ container app: CrashLoopBackOff \(image registry\.local/web:1\.0, [1-9][0-9]* restarts?\)$`},
			reason:  `^1/2 ready; failed: Deployment/NS/web: .*; pod web-`,
		},
		{
			name:  "ImagePullBackOff fails early with the reason and the image",
			steps: []input{rawCase("image-pull.yaml")}, timeout: healthTimeout,
			status: ferry.HealthUnhealthy, ready: "0/1",
			objects: map[string]string{"Deployment/api": `^.*pod api-[a-z0-9]+-[a-z0-9]+ container api: ImagePullBackOff \(image registry\.local/api:1\.0-missing\)$`},
			reason:  `^0/1 ready; failed: Deployment/NS/api: `,
		},
		{
			name:  "CrashLoopBackOff fails early with the reason, the image and the restarts",
			steps: []input{rawCase("crashloop.yaml")}, timeout: healthTimeout,
			status: ferry.HealthUnhealthy, ready: "0/1",
			objects: map[string]string{"Deployment/worker": `^.*pod worker-[a-z0-9]+-[a-z0-9]+ container worker: CrashLoopBackOff \(image registry\.local/worker:3\.1, [1-9][0-9]* restarts?\)$`},
			reason:  `^0/1 ready; failed: Deployment/NS/worker: `,
		},
		{
			name:  "unschedulable pod makes the release unhealthy with the scheduler's message",
			steps: []input{rawCase("unschedulable.yaml")}, timeout: 3 * time.Second,
			status: ferry.HealthUnhealthy, ready: "0/1",
			objects: map[string]string{"Deployment/big": `^.*pod big-[a-z0-9]+-[a-z0-9]+ unschedulable: 0/3 nodes are available: 3 Insufficient cpu\.`},
			reason:  `^not healthy within 3s: 0/1 ready; waiting for Deployment/NS/big: `,
		},
		{
			name:  "suspended Job and CronJob are healthy",
			steps: []input{rawCase("suspended.yaml")}, timeout: healthTimeout,
			status: ferry.HealthHealthy, ready: "2/2",
			objects: map[string]string{"Job/reindex": `^suspended$`, "CronJob/nightly": `^suspended$`},
			reason:  `^2/2 objects healthy$`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := lc.Namespace(t, nil)
			release := "web"
			c, _ := testClient(t, lc, ns, release, nil)
			var r *ferry.Rendered
			for i, in := range tt.steps {
				r = renderInput(t, release, ns, in)
				mustApply(t, c, i+1, r)
				if i < len(tt.steps)-1 {
					mustBeHealthy(t, c, r)
				}
			}
			var progress []string
			v, err := c.WaitHealthy(context.Background(), *r, tt.timeout, func(v ferry.HealthVerdict) { progress = append(progress, v.Reason) })
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("progress: %q", progress)
			if v.Status != tt.status {
				t.Errorf("status = %s, want %s (%s)", v.Status, tt.status, v.Reason)
			}
			if got := fmtReady(v); got != tt.ready {
				t.Errorf("ready = %s, want %s", got, tt.ready)
			}
			reason := regexp.MustCompile(regexp.QuoteMeta("NS")).ReplaceAllString(tt.reason, ns)
			if !regexp.MustCompile(reason).MatchString(v.Reason) {
				t.Errorf("reason = %q, want it to match %q", v.Reason, reason)
			}
			for name, pattern := range tt.objects {
				o := objectNamed(v, name)
				if o == nil {
					t.Errorf("no verdict on %s", name)
					continue
				}
				if !regexp.MustCompile(pattern).MatchString(o.Reason) {
					t.Errorf("%s reason = %q, want it to match %q", name, o.Reason, pattern)
				}
			}
			if len(progress) == 0 || progress[len(progress)-1] == "" {
				t.Errorf("progress reported %q, want at least the final verdict", progress)
			}
		})
	}
}

func fmtReady(v ferry.HealthVerdict) string {
	return itoa(v.Ready) + "/" + itoa(v.Total)
}

func itoa(n int) string { return strconv.Itoa(n) }

// objectNamed finds the verdict on Kind/name.
func objectNamed(v ferry.HealthVerdict, kindName string) *ferry.ObjectHealth {
	for i, o := range v.Objects {
		if o.Ref.Kind+"/"+o.Ref.Name == kindName {
			return &v.Objects[i]
		}
	}
	return nil
}
