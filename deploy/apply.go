package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	ferry "github.com/ferry-gitops/ferry"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Action says what Apply did to the release.
type Action string

// Apply actions.
const (
	// ActionUnchanged: the deployed revision already has the render's
	// digest; nothing but one read reached the cluster.
	ActionUnchanged Action = "unchanged"
	ActionInstalled Action = "installed"
	ActionUpgraded  Action = "upgraded"
)

// Result is the outcome of Apply.
type Result struct {
	Action Action
	// Revision is the release's Helm revision after the apply.
	Revision int
	// Recovered lists, in order, what had to be repaired before applying:
	// a revision left pending by a process that died, or a first install
	// that failed. Empty when the release was in order.
	Recovered []string
}

// Apply brings the target's release to the render r of revision rev with
// `helm upgrade --install` semantics, applying exactly r.Manifest (hooks
// included, byte for byte; see manifestChart). It does not wait for the
// objects to become ready (that is WaitHealthy's job) and never rolls back
// by itself.
//
// When the deployed revision already carries r's digest, Apply reads the
// release history once and returns ActionUnchanged: no other call reaches
// the cluster and no revision is made. A revision left pending by a process
// that died is marked failed and rolled back to the deployed revision, and a
// release that never deployed is uninstalled, before the apply proceeds;
// Result.Recovered says so.
//
// Each new revision is described with the Git SHA and subject and labelled
// with LabelRevision and LabelDigest. History beyond Target.MaxHistory is
// pruned, never removing the last good revision.
//
// When ctx ends while Helm works (SIGTERM), Apply stops waiting and leaves
// the revision failed, not pending, and returns an error wrapping ctx's.
// A render for another release or namespace is refused with ErrBadTarget.
func (c *Client) Apply(ctx context.Context, rev ferry.Revision, r *ferry.Rendered) (*Result, error) {
	if r.Release != c.target.Release || r.Namespace != c.target.Namespace {
		return nil, fmt.Errorf("%w: render is for release %s in namespace %s, target is %s in %s",
			ErrBadTarget, r.Release, r.Namespace, c.target.Release, c.target.Namespace)
	}
	if r.Digest == "" {
		return nil, errors.New("render has no digest")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	log := c.log.With("revision", rev.Short(), "digest", ShortDigest(r.Digest))

	res := &Result{}
	// Each recovery step leaves the release absent or deployed, so the
	// third look at the latest must lead to an install, upgrade or nothing.
	for range 3 {
		hist, err := c.history()
		if err != nil {
			return nil, err
		}
		s := observe(hist, r.Digest)
		st := decide(s)
		log.DebugContext(ctx, "release observed", "state", s.kind.String(), "step", st.String())
		switch st {
		case stepNone:
			res.Action, res.Revision = ActionUnchanged, s.last.Version
			return res, nil
		case stepRecoverPending:
			msg, err := c.recoverPending(ctx, s)
			if err != nil {
				return res, err
			}
			res.Recovered = append(res.Recovered, msg)
			log.WarnContext(ctx, "recovered release", "what", msg)
		case stepUninstall:
			msg, err := c.uninstallNeverDeployed(ctx, s)
			if err != nil {
				return res, err
			}
			res.Recovered = append(res.Recovered, msg)
			log.WarnContext(ctx, "recovered release", "what", msg)
		case stepInstall, stepUpgrade:
			rel, err := c.applyRender(ctx, st, s, rev, r)
			if rel != nil {
				res.Revision = rel.Version
			}
			if perr := c.prune(ctx); perr != nil && err == nil {
				err = perr
			}
			if err != nil {
				return res, err
			}
			res.Action = ActionUpgraded
			if st == stepInstall {
				res.Action = ActionInstalled
			}
			log.InfoContext(ctx, "release applied", "action", string(res.Action), "helmRevision", res.Revision)
			return res, nil
		}
	}
	return res, fmt.Errorf("release %s is still not in order after recovery: %v", c.target.Release, res.Recovered)
}

// definesAPIs says whether objs hold a CustomResourceDefinition, which
// makes the cluster serve an API that other releases' renders may check for.
func definesAPIs(objs []ferry.Object) bool {
	for _, o := range objs {
		if o.Kind == "CustomResourceDefinition" && strings.HasPrefix(o.APIVersion, "apiextensions.k8s.io/") {
			return true
		}
	}
	return false
}

// history is every stored revision of the release: one list call.
func (c *Client) history() ([]*release.Release, error) {
	h, err := c.helm.Releases.History(c.target.Release)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history of release %s: %w", c.target.Release, err)
	}
	return h, nil
}

// applyRender runs Helm's install or upgrade with the chart made from the
// render, after proving that chart renders back to r.Manifest.
func (c *Client) applyRender(ctx context.Context, st step, s releaseState, rev ferry.Revision, r *ferry.Rendered) (*release.Release, error) {
	chrt, err := manifestChart(r)
	if err != nil {
		return nil, err
	}
	if err := checkManifestChart(ctx, chrt, r); err != nil {
		return nil, err
	}
	if err := c.ensureNamespace(ctx); err != nil {
		return nil, err
	}
	vals := copyValues(r.Values).(map[string]any)
	labels := revisionLabels(rev, r.Digest)
	// Helm's client-side validation first asks whether the API server
	// validates fields itself, by downloading and parsing the OpenAPI
	// document of each group version (tens of megabytes for core/v1); every
	// server since Kubernetes 1.27 does, so Helm then validates nothing on
	// the client, and it sends no fieldValidation directive either. The
	// server's own checks (types, names, admission) apply as they always
	// did; the download is all that validation would cost.
	var rel *release.Release
	if definesAPIs(r.Objects) || definesAPIs(r.Hooks) {
		// Even a failed attempt may have created a CRD.
		defer c.cluster.forgetCapabilities()
	}
	if st == stepInstall {
		in := action.NewInstall(c.helm)
		in.ReleaseName, in.Namespace = c.target.Release, c.target.Namespace
		in.Timeout = c.target.HookTimeout
		in.Description = description("install", rev)
		in.Replace = s.last != nil // reuse the name of an uninstalled release kept in history
		delete(labels, LabelGood)
		in.Labels = labels
		in.DisableOpenAPIValidation = true
		rel, err = in.RunWithContext(ctx, chrt, vals)
	} else {
		up := action.NewUpgrade(c.helm)
		up.Namespace = c.target.Namespace
		up.Timeout = c.target.HookTimeout
		up.Description = description("upgrade", rev)
		up.ResetValues = true
		up.Labels = labels
		up.DisableOpenAPIValidation = true
		rel, err = up.RunWithContext(ctx, c.target.Release, chrt, vals)
	}
	if err != nil {
		if ctx.Err() != nil {
			c.settle(ctx)
			return rel, fmt.Errorf("%s of release %s stopped: %w", st, c.target.Release, context.Cause(ctx))
		}
		return rel, fmt.Errorf("%s of release %s: %w", st, c.target.Release, err)
	}
	return rel, nil
}

// ensureNamespace creates the release namespace with its labels, or adds
// missing labels to it, when the target asks for it.
func (c *Client) ensureNamespace(ctx context.Context) error {
	if !c.target.CreateNamespace {
		return nil
	}
	name := c.target.Namespace
	ns, err := c.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: maps.Clone(c.target.NamespaceLabels)},
		}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	if err != nil {
		return fmt.Errorf("read namespace %s: %w", name, err)
	}
	missing := map[string]string{}
	for k, v := range c.target.NamespaceLabels {
		if ns.Labels[k] != v {
			missing[k] = v
		}
	}
	if len(missing) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": missing}})
	if err != nil {
		return err
	}
	if _, err := c.kube.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("label namespace %s: %w", name, err)
	}
	return nil
}
