package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	ferry "github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	"github.com/ferry-gitops/ferry/internal/syncbuf"
)

// A release with a Secret goes through a diff, an install, health, an
// upgrade that changes the Secret, a diff of that change and a rollback,
// with every log line of ferry and Helm (debug included) captured. The
// Secret's values, as written and as stored (base64), appear in none of the
// diff texts, results, verdicts or log lines.
func TestSecretNeverInDiffOrLogs(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	t.Parallel()
	ns := lc.Namespace(t, nil)
	ctx := context.Background()
	logs := &syncbuf.Buffer{}
	c, err := newClient(Target{Kubeconfig: lc.Kubeconfig, Namespace: ns, Release: "web"}, nil,
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	c.pollInterval = 100 * time.Millisecond

	const first, second = "hunter2-Zq8vX1pL", "correct-horse-9Tb3"
	var outputs []string // everything ferry printed or returned, in order
	diff := func(r *ferry.Rendered) string {
		t.Helper()
		live, err := c.Cluster().LiveObjects(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		d := Diff(live, r).String()
		outputs = append(outputs, d)
		return d
	}

	v1 := renderInput(t, "web", ns, webChart("secret.password="+first))
	if got, want := diff(v1), "+ Secret/"+ns+"/web-db\n+ ConfigMap/"+ns+"/web-config\n+ Deployment/"+ns+"/web\n"; got != want {
		t.Errorf("diff before install:\n got %q\nwant %q", got, want)
	}
	res := mustApply(t, c, 1, v1)
	outputs = append(outputs, fmt.Sprintf("%+v", *res))
	v := mustBeHealthy(t, c, v1)
	outputs = append(outputs, fmt.Sprintf("%+v", v))
	if v.Total != 3 || v.Ready != 3 {
		t.Errorf("verdict %d/%d, want 3/3 (the Secret is judged too)", v.Ready, v.Total)
	}
	if err := c.MarkGood(ctx, 1); err != nil {
		t.Fatal(err)
	}

	v2 := renderInput(t, "web", ns, webChart("secret.password="+second))
	if got, want := diff(v2), "~ Secret/"+ns+"/web-db\n    ~ data.password: <masked> -> <masked>\n"; got != want {
		t.Errorf("diff of the Secret change:\n got %q\nwant %q", got, want)
	}
	res = mustApply(t, c, 2, v2)
	outputs = append(outputs, fmt.Sprintf("%+v", *res))
	rb, err := c.Rollback(ctx, healthTimeout)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, fmt.Sprintf("%+v", *rb))
	if rb.To != 1 || rb.Revision != 3 || rb.Health.Status != ferry.HealthHealthy {
		t.Errorf("rollback = to %d as %d, %s; want to 1 as 3, Healthy", rb.To, rb.Revision, rb.Health.Status)
	}
	if got, want := diff(v1), ""; got != want {
		t.Errorf("diff after rolling back to revision 1's render:\n%s", got)
	}

	log := logs.String()
	for _, want := range []string{"release applied", "rolled back", "helm: "} {
		if !strings.Contains(log, want) {
			t.Errorf("captured log has no %q line; the capture missed ferry or Helm:\n%s", want, log)
		}
	}
	outputs = append(outputs, log)
	for _, secret := range []string{first, second} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			for _, out := range outputs {
				if strings.Contains(out, form) {
					t.Errorf("secret value %q found in output:\n%s", form, out)
				}
			}
		}
	}
}
