package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	ferry "github.com/ferry-gitops/ferry"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster reads what one environment's cluster holds: its capabilities, the
// live objects of a release and the namespace's quota. It only reads.
type Cluster struct {
	core   kubernetes.Interface
	dyn    dynamic.Interface
	disc   discovery.CachedDiscoveryInterface
	mapper meta.ResettableRESTMapper

	// discovering is held by the one Capabilities call at work; the others
	// wait for it, and find its result. It guards caps, capsAt and apis
	// (the last capabilities read, when, and their API versions sorted),
	// and failed and failedAt (the last read's error and when).
	discovering chan struct{}
	caps        *Capabilities
	capsAt      time.Time
	apis        []string
	failed      error
	failedAt    time.Time
	// rereadUntil (Unix nanoseconds) ends the window after a CRD was
	// applied in which every call reads afresh: the API server serves the
	// new API only once the CRD is established, a moment after it was
	// created. Atomic, so that an apply never waits on a discovery.
	rereadUntil atomic.Int64
}

// capabilitiesMaxAge is how long capabilities read from the cluster serve
// further renders. Every release on a cluster renders against it, and a
// discovery of all its APIs takes megabytes: hundreds of releases starting
// at once share one read instead of each making its own.
const capabilitiesMaxAge = 5 * time.Second

// capabilitiesRetryAfter is how long a failed read of the capabilities is
// the answer for the callers waiting on it: with the API server away, the
// releases queued behind one failure fail with it instead of each timing
// out in turn.
const capabilitiesRetryAfter = time.Second

// RESTConfig loads a kubeconfig the way kubectl does: the file given, else
// $KUBECONFIG or ~/.kube/config, else in-cluster; context "" is the
// current one.
func RESTConfig(kubeconfig, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// NewCluster connects to the cluster of cfg.
func NewCluster(cfg *rest.Config) (*Cluster, error) {
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	disc := memory.NewMemCacheClient(core.Discovery())
	return newCluster(core, dyn, disc, restmapper.NewDeferredDiscoveryRESTMapper(disc)), nil
}

func newCluster(core kubernetes.Interface, dyn dynamic.Interface, disc discovery.CachedDiscoveryInterface, mapper meta.ResettableRESTMapper) *Cluster {
	return &Cluster{core: core, dyn: dyn, disc: disc, mapper: mapper, discovering: make(chan struct{}, 1)}
}

// Capabilities reads the cluster's version and served APIs, so a CRD
// installed since shows; calls within capabilitiesMaxAge of a read, or
// while one is in flight, share its result (for capabilitiesMaxAge after
// a release applied a CRD, every call reads afresh). When the served APIs
// changed, the discovery cache that maps kinds to resources (shared by
// every release on the cluster) is refreshed too; otherwise it is left warm.
func (c *Cluster) Capabilities(ctx context.Context) (*Capabilities, error) {
	asked := time.Now()
	select {
	case c.discovering <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.discovering }()
	// A read made since this call began always serves it; an older one
	// only within its age, and not just after a CRD was applied.
	if c.caps != nil && (c.capsAt.After(asked) ||
		time.Since(c.capsAt) < capabilitiesMaxAge && time.Now().UnixNano() > c.rereadUntil.Load()) {
		return c.caps.clone(), nil
	}
	if c.failed != nil && (c.failedAt.After(asked) || time.Since(c.failedAt) < capabilitiesRetryAfter) {
		return nil, c.failed
	}
	caps, err := DiscoverCapabilities(ctx, c.core.Discovery())
	if err != nil {
		if ctx.Err() == nil {
			c.failed, c.failedAt = err, time.Now()
		}
		return nil, err
	}
	c.failed = nil
	apis := slices.Sorted(slices.Values(caps.APIVersions))
	if !slices.Equal(c.apis, apis) {
		c.disc.Invalidate()
		c.mapper.Reset()
		c.apis = apis
	}
	c.caps, c.capsAt = caps, time.Now()
	return caps.clone(), nil
}

// forgetCapabilities makes Capabilities read the cluster at every call
// for capabilitiesMaxAge: a release applied a CRD, and the releases rendered
// next must see the API it serves as soon as the API server does.
func (c *Cluster) forgetCapabilities() {
	c.rereadUntil.Store(time.Now().Add(capabilitiesMaxAge).UnixNano())
}

// LiveObjects returns the objects that a diff with rendered must see: every
// object of the release as last deployed (read from Helm's release record)
// and every object the render would apply, each as the API server holds it
// now. Objects that do not exist are left out; a kind the cluster does not
// serve is treated as absent.
func (c *Cluster) LiveObjects(ctx context.Context, rendered *ferry.Rendered) ([]ferry.Object, error) {
	refs, err := c.releaseObjects(rendered.Release, rendered.Namespace)
	if err != nil {
		return nil, err
	}
	for _, o := range rendered.Objects {
		refs = append(refs, o.ObjectRef)
	}
	seen := map[string]bool{}
	var out []ferry.Object
	for _, ref := range refs {
		obj, ok, err := c.get(ctx, ref, rendered.Namespace)
		if err != nil {
			return nil, err
		}
		if !ok || seen[objectKey(obj.ObjectRef)] {
			continue
		}
		seen[objectKey(obj.ObjectRef)] = true
		out = append(out, obj)
	}
	return out, nil
}

// releaseObjects lists the objects of the release's deployed revision; none
// when the release has never been deployed.
func (c *Cluster) releaseObjects(release, namespace string) ([]ferry.ObjectRef, error) {
	store := storage.Init(driver.NewSecrets(c.core.CoreV1().Secrets(namespace)))
	rel, err := store.Deployed(release)
	if errors.Is(err, driver.ErrNoDeployedReleases) || errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release %s/%s: %w", namespace, release, err)
	}
	objs, err := manifestObjects(rel.Manifest)
	if err != nil {
		return nil, fmt.Errorf("release %s/%s: %w", namespace, release, err)
	}
	refs := make([]ferry.ObjectRef, len(objs))
	for i, o := range objs {
		refs[i] = o.ObjectRef
	}
	return refs, nil
}

// get reads one object; a namespaced object named without a namespace lives
// in the release namespace.
func (c *Cluster) get(ctx context.Context, ref ferry.ObjectRef, namespace string) (ferry.Object, bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ferry.Object{}, false, fmt.Errorf("%s: %w", ref, err)
	}
	mapping, err := c.mapper.RESTMapping(gv.WithKind(ref.Kind).GroupKind(), gv.Version)
	if meta.IsNoMatchError(err) {
		return ferry.Object{}, false, nil
	}
	if err != nil {
		return ferry.Object{}, false, fmt.Errorf("%s: %w", ref, err)
	}
	var res dynamic.ResourceInterface = c.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := ref.Namespace
		if ns == "" {
			ns = namespace
		}
		res = c.dyn.Resource(mapping.Resource).Namespace(ns)
	}
	u, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ferry.Object{}, false, nil
	}
	if err != nil {
		return ferry.Object{}, false, fmt.Errorf("read %s: %w", ref, err)
	}
	return ferry.Object{ObjectRef: refOf(u.Object), Content: u.Object}, true, nil
}

// Quota fills the summary's Quota and Used from the namespace's live
// ResourceQuotas. Several quotas each limit on their own, so for every
// resource the smallest hard value is kept, with that quota's usage. A
// quota the chart renders is replaced by the live one.
func (c *Cluster) Quota(ctx context.Context, namespace string, sum *ferry.ResourceSummary) error {
	list, err := c.core.CoreV1().ResourceQuotas(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("read quotas of %s: %w", namespace, err)
	}
	if len(list.Items) == 0 {
		return nil
	}
	hard, used := ferry.ResourceList{}, ferry.ResourceList{}
	for _, q := range list.Items {
		for name, v := range q.Status.Hard {
			n := quotaAmount(string(name), v.MilliValue(), v.Value())
			if old, ok := hard[string(name)]; !ok || n < old {
				hard[string(name)] = n
				if u, ok := q.Status.Used[name]; ok {
					used[string(name)] = quotaAmount(string(name), u.MilliValue(), u.Value())
				}
			}
		}
	}
	sum.Quota, sum.Used, sum.QuotaSource = hard, used, "live"
	return nil
}

// quotaAmount picks millicores for CPU entries and whole units otherwise.
func quotaAmount(name string, milli, whole int64) int64 {
	if slices.Contains([]string{"cpu", QuotaRequestsCPU, QuotaLimitsCPU}, name) {
		return milli
	}
	return whole
}
