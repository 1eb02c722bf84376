package deploy

import (
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Target is where one environment's release lives and how ferry treats it.
type Target struct {
	// Kubeconfig is the path of the kubeconfig file; empty means the usual
	// loading rules ($KUBECONFIG, ~/.kube/config, or in-cluster).
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current one.
	Context string
	// Namespace is the release namespace.
	Namespace string
	// CreateNamespace creates the namespace, with NamespaceLabels, when it is
	// missing, and adds NamespaceLabels to it when it exists.
	CreateNamespace bool
	NamespaceLabels map[string]string
	// Release is the Helm release name.
	Release string
	// MaxHistory is how many Helm revisions to keep (0 means
	// DefaultMaxHistory). The last revision ferry recorded as good is kept
	// on top of these, however old it is.
	MaxHistory int
	// HookTimeout bounds how long Helm waits for one hook (0 means
	// DefaultHookTimeout).
	HookTimeout time.Duration
	// QPS and Burst are the rate limits of the connection NewClient makes
	// (0 means DefaultQPS and DefaultBurst); client-go's own default of 5
	// QPS makes a chart of a few dozen objects wait on the client instead
	// of the cluster. A Client made on a shared Connection has its limits.
	QPS   float32
	Burst int
}

// Defaults for the zero fields of a Target.
const (
	DefaultMaxHistory  = 10
	DefaultHookTimeout = 5 * time.Minute
	DefaultQPS         = 50
	DefaultBurst       = 100
)

// ErrBadTarget is wrapped by every error about a Target that cannot work:
// retrying will not help, the configuration must change.
var ErrBadTarget = errors.New("bad deploy target")

// withDefaults validates t and fills its zero fields.
func (t Target) withDefaults() (Target, error) {
	var errs []error
	if err := chartutil.ValidateReleaseName(t.Release); err != nil {
		errs = append(errs, fmt.Errorf("release %q: %w", t.Release, err))
	}
	if msgs := validation.IsDNS1123Label(t.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q: %s", t.Namespace, msgs[0]))
	}
	for k, v := range t.NamespaceLabels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("namespace label %q: %s", k, msgs[0]))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("namespace label %q value %q: %s", k, v, msgs[0]))
		}
	}
	if t.MaxHistory < 0 {
		errs = append(errs, fmt.Errorf("maxHistory %d: must not be negative", t.MaxHistory))
	}
	if err := errors.Join(errs...); err != nil {
		return t, fmt.Errorf("%w: %w", ErrBadTarget, err)
	}
	if t.MaxHistory == 0 {
		t.MaxHistory = DefaultMaxHistory
	}
	if t.HookTimeout == 0 {
		t.HookTimeout = DefaultHookTimeout
	}
	if t.QPS == 0 {
		t.QPS = DefaultQPS
	}
	if t.Burst == 0 {
		t.Burst = DefaultBurst
	}
	return t, nil
}
