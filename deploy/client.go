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
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// Client acts on one Target: it applies renders there, judges their health,
// rolls back and recovers the release. It acts through a Connection to the
// target's cluster, its own or one shared with the other releases there,
// and its own Helm configuration for the release namespace. Creating a
// Client contacts nothing.
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

	// cluster reads objects, pods and quotas; kube is its typed client.
	cluster *Cluster
	kube    kubernetes.Interface
	helm    *action.Configuration

	// mu serialises the operations that change the release.
	mu sync.Mutex
}

// NewClient validates target and prepares a Client for it on a connection
// of its own. Errors about the target wrap ErrBadTarget.
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
	conn, err := connect(ConnectOptions{Kubeconfig: t.Kubeconfig, Context: t.Context, QPS: t.QPS, Burst: t.Burst}, wrap)
	if err != nil {
		return nil, err
	}
	return conn.client(t, base)
}

// Client prepares a Client for target on this connection; target's
// Kubeconfig, Context, QPS and Burst are the connection's and are ignored.
// Errors about the target wrap ErrBadTarget.
func (conn *Connection) Client(target Target) (*Client, error) {
	t, err := target.withDefaults()
	if err != nil {
		return nil, err
	}
	return conn.client(t, nil)
}

func (conn *Connection) client(t Target, base *slog.Logger) (*Client, error) {
	if base == nil {
		base = slog.Default()
	}
	log := base.With("release", t.Release, "namespace", t.Namespace)
	helmLog := func(format string, v ...any) { log.Debug("helm: " + fmt.Sprintf(format, v...)) }
	secrets := driver.NewSecrets(conn.clientset.CoreV1().Secrets(t.Namespace))
	secrets.Log = helmLog
	helmCfg := &action.Configuration{
		RESTClientGetter: conn.getter,
		KubeClient:       &kube.Client{Factory: conn.factory, Log: helmLog, Namespace: t.Namespace},
		Releases:         storage.Init(secrets),
		Log:              helmLog,
		// ferry applies manifests it rendered before (see manifestChart);
		// the chart Helm sees asks nothing of the cluster's capabilities,
		// so Helm need not rediscover them on every upgrade.
		Capabilities: chartutil.DefaultCapabilities.Copy(),
	}
	return &Client{
		target:       t,
		log:          log,
		pollInterval: 250 * time.Millisecond,
		cluster:      conn.cluster,
		kube:         conn.clientset,
		helm:         helmCfg,
	}, nil
}

// Connection is ferry's link to one cluster, shared by every release there:
// one REST configuration and rate limiter, one discovery cache and
// RESTMapper, one typed and one dynamic client, and one kubectl factory
// for Helm's kube client. Discovery of a cluster's APIs takes megabytes,
// so it is made once per cluster rather than once per release.
// Creating one contacts nothing; it is safe for concurrent use.
type Connection struct {
	getter    *restGetter
	clientset *kubernetes.Clientset
	cluster   *Cluster
	factory   kube.Factory
}

// ConnectOptions name a cluster and the rate limits of the connection to it.
type ConnectOptions struct {
	// Kubeconfig is the kubeconfig file; empty means the usual loading
	// rules ($KUBECONFIG, ~/.kube/config, or in-cluster).
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current one.
	Context string
	// QPS and Burst limit the requests of every release on the connection
	// together (0 means DefaultQPS and DefaultBurst).
	QPS   float32
	Burst int
}

// Connect prepares a connection to a cluster. Errors about the kubeconfig
// wrap ErrBadTarget.
func Connect(opts ConnectOptions) (*Connection, error) { return connect(opts, nil) }

func connect(opts ConnectOptions, wrap func(http.RoundTripper) http.RoundTripper) (*Connection, error) {
	if opts.QPS == 0 {
		opts.QPS = DefaultQPS
	}
	if opts.Burst == 0 {
		opts.Burst = DefaultBurst
	}
	getter, err := newRESTGetter(opts, wrap)
	if err != nil {
		return nil, err
	}
	clientset, err := kubernetes.NewForConfig(getter.config)
	if err != nil {
		return nil, fmt.Errorf("%w: kubernetes client: %w", ErrBadTarget, err)
	}
	dyn, err := dynamic.NewForConfig(getter.config)
	if err != nil {
		return nil, fmt.Errorf("%w: dynamic client: %w", ErrBadTarget, err)
	}
	return &Connection{
		getter:    getter,
		clientset: clientset,
		cluster:   newCluster(clientset, dyn, getter.disc, getter.mapper),
		factory:   sharedFactory{Factory: cmdutil.NewFactory(getter), clientset: clientset},
	}, nil
}

// Cluster gives the connection's read-only view of its cluster.
func (conn *Connection) Cluster() *Cluster { return conn.cluster }

// sharedFactory hands Helm the connection's clientset, where kubectl's
// factory would build a new one on each call.
type sharedFactory struct {
	kube.Factory
	clientset *kubernetes.Clientset
}

func (f sharedFactory) KubernetesClientSet() (*kubernetes.Clientset, error) { return f.clientset, nil }

// restGetter gives Helm and ferry one REST configuration with raised rate
// limits, and one in-memory discovery cache (nothing is written to disk).
type restGetter struct {
	loader clientcmd.ClientConfig
	config *rest.Config
	disc   discovery.CachedDiscoveryInterface
	mapper meta.ResettableRESTMapper
}

func newRESTGetter(opts ConnectOptions, wrap func(http.RoundTripper) http.RoundTripper) (*restGetter, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		rules.ExplicitPath = opts.Kubeconfig
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: opts.Context})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: kubeconfig %q context %q: %w", ErrBadTarget, opts.Kubeconfig, opts.Context, err)
	}
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	if wrap != nil {
		cfg.Wrap(wrap)
	}
	// One rate limiter for every client built from cfg: the limits are the
	// connection's, not each client's.
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
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
