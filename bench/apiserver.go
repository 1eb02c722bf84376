package bench

import (
	"bytes"
	"context"
	"fmt"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// FerryUser is the user ferry authenticates as in the benchmarks: its own
// client certificate, bound to cluster-admin, so the API server can tell
// its requests from kwok's and the controllers' (kwok uses the admin
// identity the tests use).
const FerryUser = "ferry"

// Flow schemas that sort ferry's requests at the API server. Each sends
// them to the exempt priority level, so the accounting never throttles
// ferry; apiserver_flowcontrol_dispatched_requests_total counts them per
// schema. The first match by precedence wins.
const (
	FlowLeaseWrites = "ferry-bench-lease-writes"
	FlowWrites      = "ferry-bench-writes"
	FlowReads       = "ferry-bench-reads"
)

var writeVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}

// FerryIdentity gives ferry its own user on the cluster: a kubeconfig with a
// client certificate for FerryUser, cluster-admin for it, and the flow
// schemas that count its requests. It returns the kubeconfig's path once
// the API server has taken up the schemas.
func FerryIdentity(ctx context.Context, c *localcluster.Cluster) (string, error) {
	kubeconfig, err := c.Identity(FerryUser, nil)
	if err != nil {
		return "", fmt.Errorf("bench: ferry's identity: %w", err)
	}
	client, err := c.Clientset()
	if err != nil {
		return "", fmt.Errorf("bench: cluster client: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ferry-bench-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: FerryUser}},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("bench: bind cluster-admin to %s: %w", FerryUser, err)
	}
	subject := []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: FerryUser}}}
	all := []string{"*"}
	schemas := []struct {
		name  string
		rules flowcontrolv1.PolicyRulesWithSubjects
	}{
		{FlowLeaseWrites, flowcontrolv1.PolicyRulesWithSubjects{Subjects: subject, ResourceRules: []flowcontrolv1.ResourcePolicyRule{
			{Verbs: writeVerbs, APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Namespaces: all},
		}}},
		{FlowWrites, flowcontrolv1.PolicyRulesWithSubjects{Subjects: subject, ResourceRules: []flowcontrolv1.ResourcePolicyRule{
			{Verbs: writeVerbs, APIGroups: all, Resources: all, Namespaces: all, ClusterScope: true},
		}}},
		{FlowReads, flowcontrolv1.PolicyRulesWithSubjects{Subjects: subject,
			ResourceRules:    []flowcontrolv1.ResourcePolicyRule{{Verbs: all, APIGroups: all, Resources: all, Namespaces: all, ClusterScope: true}},
			NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{Verbs: all, NonResourceURLs: all}},
		}},
	}
	for i, s := range schemas {
		fs := &flowcontrolv1.FlowSchema{
			ObjectMeta: metav1.ObjectMeta{Name: s.name},
			Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "exempt"},
				// Above the mandatory "exempt" schema (1) and below the
				// system schemas, none of which match FerryUser.
				MatchingPrecedence: int32(50 + i),
				Rules:              []flowcontrolv1.PolicyRulesWithSubjects{s.rules},
			},
		}
		if _, err := client.FlowcontrolV1().FlowSchemas().Create(ctx, fs, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("bench: flow schema %s: %w", s.name, err)
		}
	}
	if err := waitFlowSchemas(ctx, client, FlowLeaseWrites, FlowWrites, FlowReads); err != nil {
		return "", err
	}
	return kubeconfig, nil
}

// waitFlowSchemas waits until the API server's flow-control controller has
// judged each schema (its Dangling condition is set), which it does once it
// has taken the schema into its configuration.
func waitFlowSchemas(ctx context.Context, client kubernetes.Interface, names ...string) error {
	deadline := time.Now().Add(time.Minute)
	for _, name := range names {
		for {
			fs, err := client.FlowcontrolV1().FlowSchemas().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("bench: flow schema %s: %w", name, err)
			}
			judged := false
			for _, c := range fs.Status.Conditions {
				if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
					if c.Status != flowcontrolv1.ConditionFalse {
						return fmt.Errorf("bench: flow schema %s is dangling: %s", name, c.Message)
					}
					judged = true
				}
			}
			if judged {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: the API server has not taken up flow schema %s within a minute", name)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// Metrics are one scrape of a Prometheus text endpoint.
type Metrics map[string]*dto.MetricFamily

// ParseMetrics reads the Prometheus text format.
func ParseMetrics(text []byte) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("bench: parse metrics: %w", err)
	}
	return Metrics(m), nil
}

// Sum adds up the counter, gauge or untyped samples of one metric whose
// labels include every pair in match.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	f, ok := m[name]
	if !ok {
		return 0
	}
	var total float64
	for _, s := range f.Metric {
		if !labelsMatch(s.Label, match) {
			continue
		}
		switch {
		case s.Counter != nil:
			total += s.Counter.GetValue()
		case s.Gauge != nil:
			total += s.Gauge.GetValue()
		case s.Untyped != nil:
			total += s.Untyped.GetValue()
		}
	}
	return total
}

func labelsMatch(labels []*dto.LabelPair, match map[string]string) bool {
	n := 0
	for _, l := range labels {
		if v, ok := match[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(match)
}

// APIServer scrapes the metrics of a local cluster's API server as admin.
type APIServer struct{ client kubernetes.Interface }

// NewAPIServer returns a scraper of c's API server.
func NewAPIServer(c *localcluster.Cluster) (*APIServer, error) {
	client, err := c.Clientset()
	if err != nil {
		return nil, fmt.Errorf("bench: cluster client: %w", err)
	}
	return &APIServer{client: client}, nil
}

// FerryRequests are the requests ferry made, as the API server's flow
// control counted them.
type FerryRequests struct {
	LeaseWrites, OtherWrites, Reads float64
}

// Total is every request ferry made.
func (r FerryRequests) Total() float64 { return r.LeaseWrites + r.OtherWrites + r.Reads }

// Sub is the requests made between two scrapes.
func (r FerryRequests) Sub(before FerryRequests) FerryRequests {
	return FerryRequests{r.LeaseWrites - before.LeaseWrites, r.OtherWrites - before.OtherWrites, r.Reads - before.Reads}
}

// Ferry reads the counts of ferry's requests so far.
func (a *APIServer) Ferry(ctx context.Context) (FerryRequests, error) {
	raw, err := a.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return FerryRequests{}, fmt.Errorf("bench: scrape the API server's metrics: %w", err)
	}
	m, err := ParseMetrics(raw)
	if err != nil {
		return FerryRequests{}, err
	}
	const name = "apiserver_flowcontrol_dispatched_requests_total"
	return FerryRequests{
		LeaseWrites: m.Sum(name, map[string]string{"flow_schema": FlowLeaseWrites}),
		OtherWrites: m.Sum(name, map[string]string{"flow_schema": FlowWrites}),
		Reads:       m.Sum(name, map[string]string{"flow_schema": FlowReads}),
	}, nil
}
