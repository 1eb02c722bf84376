package deploy

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/kube"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Client acts on one Target: it applies renders there, judges their health,
// rolls back and recovers the release. It holds one connection, one cached
// discovery and one Helm configuration, built lazily: creating a Client
// contacts nothing.
//
// A Client is safe for concurrent use; release-changing operations (Apply,
// Rollback, MarkGood) run one at a time. Two processes acting on the same
// release must be kept apart by the caller (ferry's leader election): a
// release found pending when an operation starts is taken for the remnant of
// a process that died, and recovered.
type Client struct {
	target Target
	log    *slog.Logger
	// pollInterval is how often WaitHealthy looks again.
	pollInterval time.Duration

	getter *restGetter
	// cluster reads objects, pods and quotas; kube is its typed client.
	cluster *Cluster
	kube    kubernetes.Interface
	helm    *action.Configuration

	// mu serialises the operations that change the release.
	mu sync.Mutex
}

// NewClient validates target and prepares a Client for it. Errors about the
// target wrap ErrBadTarget.
func NewClient(target Target) (*Client, error) {
	return newClient(target, nil, nil)
}

// newClient is NewClient with a hook on the HTTP transport, which tests use
// to count the requests an operation makes, and the logger to write to (nil
// means slog.Default()), which tests read to prove what is never logged.
func newClient(target Target, wrap func(http.RoundTripper) http.RoundTripper, base *slog.Logger) (*Client, error) {
	t, err := target.withDefaults()
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = slog.Default()
	}
	log := base.With("release", t.Release, "namespace", t.Namespace)
	getter, err := newRESTGetter(t, wrap)
	if err != nil {
		return nil, err
	}
	cfg, _ := getter.ToRESTConfig()
	cluster, err := NewCluster(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTarget, err)
	}
	helmCfg := &action.Configuration{}
	helmLog := func(format string, v ...any) { log.Debug("helm: " + fmt.Sprintf(format, v...)) }
	if err := helmCfg.Init(getter, t.Namespace, "secret", helmLog); err != nil {
		return nil, fmt.Errorf("helm configuration: %w", err)
	}
	if hk, ok := helmCfg.KubeClient.(*kube.Client); ok {
		hk.Namespace = t.Namespace
	}
	// ferry applies manifests it rendered before (see manifestChart); the
	// chart Helm sees asks nothing of the cluster's capabilities, so Helm
	// need not rediscover them on every upgrade.
	helmCfg.Capabilities = chartutil.DefaultCapabilities.Copy()
	return &Client{
		target:       t,
		log:          log,
		pollInterval: 250 * time.Millisecond,
		getter:       getter,
		cluster:      cluster,
		kube:         cluster.core,
		helm:         helmCfg,
	}, nil
}

// restGetter gives Helm and ferry one REST configuration with raised rate
// limits, and one in-memory discovery cache (nothing is written to disk).
type restGetter struct {
	loader clientcmd.ClientConfig
	config *rest.Config
	disc   discovery.CachedDiscoveryInterface
	mapper meta.ResettableRESTMapper
}

func newRESTGetter(t Target, wrap func(http.RoundTripper) http.RoundTripper) (*restGetter, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if t.Kubeconfig != "" {
		rules.ExplicitPath = t.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: t.Context}
	overrides.Context.Namespace = t.Namespace
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: kubeconfig %q context %q: %w", ErrBadTarget, t.Kubeconfig, t.Context, err)
	}
	cfg.QPS, cfg.Burst = t.QPS, t.Burst
	if wrap != nil {
		cfg.Wrap(wrap)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery client: %w", ErrBadTarget, err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &restGetter{
		loader: loader,
		config: cfg,
		disc:   cached,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached),
	}, nil
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.disc, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.loader }

// Target returns the target the client acts on, with defaults filled in.
func (c *Client) Target() Target { return c.target }

// Cluster gives the read-only view of the target's cluster that the
// client uses itself: capabilities for a render, live objects for a diff.
func (c *Client) Cluster() *Cluster { return c.cluster }
