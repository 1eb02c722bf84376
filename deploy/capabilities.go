package deploy

import (
	"context"
	"fmt"
	"slices"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/client-go/discovery"
)

// Capabilities is what a chart may ask of its target cluster through
// .Capabilities: the Kubernetes version and the API versions served. They
// go into the digest, so a CRD installed in the cluster that makes the chart
// render more changes what ferry considers deployed.
type Capabilities struct {
	// KubeVersion is the version's full text ("v1.36.2"); Major and Minor
	// are what the server reports (Minor may carry a "+").
	KubeVersion string
	Major       string
	Minor       string
	// APIVersions are "group/version" and "group/version/Kind" entries, in
	// the order Helm would list them.
	APIVersions []string
}

// OfflineCapabilities gives what `helm template --kube-version V
// --api-versions A,B` uses: Helm's defaults, the given version when not
// empty, and the extra API versions added to Helm's default list.
func OfflineCapabilities(kubeVersion string, extraAPIVersions []string) (*Capabilities, error) {
	def := chartutil.DefaultCapabilities
	c := &Capabilities{
		KubeVersion: def.KubeVersion.Version,
		Major:       def.KubeVersion.Major,
		Minor:       def.KubeVersion.Minor,
		APIVersions: append(slices.Clone([]string(def.APIVersions)), extraAPIVersions...),
	}
	if kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kube version %q: %w", kubeVersion, err)
		}
		c.KubeVersion, c.Major, c.Minor = kv.Version, kv.Major, kv.Minor
	}
	return c, nil
}

// DiscoverCapabilities reads the version and served APIs from a live
// cluster the way `helm install` does, so a render for that cluster sees
// exactly what Helm would. A group whose discovery fails (an orphaned
// APIService) is left out, as Helm leaves it out.
func DiscoverCapabilities(ctx context.Context, dc discovery.DiscoveryInterface) (*Capabilities, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	apis, err := action.GetVersionSet(dc)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("read served API versions: %w", err)
	}
	return &Capabilities{KubeVersion: v.GitVersion, Major: v.Major, Minor: v.Minor, APIVersions: apis}, nil
}

// clone copies c, so one caller's changes never reach another's.
func (c *Capabilities) clone() *Capabilities {
	out := *c
	out.APIVersions = slices.Clone(c.APIVersions)
	return &out
}

// helm converts to Helm's type, with this Helm build's version info.
func (c *Capabilities) helm() *chartutil.Capabilities {
	return &chartutil.Capabilities{
		KubeVersion: chartutil.KubeVersion{Version: c.KubeVersion, Major: c.Major, Minor: c.Minor},
		APIVersions: chartutil.VersionSet(slices.Clone(c.APIVersions)),
		HelmVersion: chartutil.DefaultCapabilities.HelmVersion,
	}
}
