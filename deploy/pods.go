package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// hasPods reports whether ferry follows a kind to its pods when it is not
// ready: a workload's own status never says why its pods fail.
func hasPods(gk schema.GroupKind) bool {
	switch gk {
	case schema.GroupKind{Kind: "Pod"},
		schema.GroupKind{Group: "apps", Kind: "Deployment"},
		schema.GroupKind{Group: "apps", Kind: "StatefulSet"},
		schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
		schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
		schema.GroupKind{Group: "batch", Kind: "Job"}:
		return true
	}
	return false
}

// currentPods are the pods of a workload's current revision: for a
// Deployment those of its newest ReplicaSet (Deployment → ReplicaSet →
// pods), for a StatefulSet those at its update revision, else every pod it
// owns. Old pods going away are not the rollout's problem.
func (c *Client) currentPods(ctx context.Context, u *unstructured.Unstructured) ([]corev1.Pod, error) {
	if u.GetKind() == "Pod" {
		var p corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
			return nil, fmt.Errorf("decode pod %s: %w", u.GetName(), err)
		}
		return []corev1.Pod{p}, nil
	}
	selector, err := selectorOf(u)
	if err != nil {
		return nil, err
	}
	ns := u.GetNamespace()
	owner := u.GetUID()
	if u.GetKind() == "Deployment" {
		rs, err := c.newestReplicaSet(ctx, u, selector)
		if err != nil || rs == nil {
			return nil, err
		}
		owner = rs.UID
	}
	list, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s/%s: %w", u.GetKind(), u.GetName(), err)
	}
	updateRevision, _, _ := unstructured.NestedString(u.Object, "status", "updateRevision")
	var pods []corev1.Pod
	for _, p := range list.Items {
		if !ownedBy(p.OwnerReferences, owner) {
			continue
		}
		if u.GetKind() == "StatefulSet" && updateRevision != "" && p.Labels[appsv1.ControllerRevisionHashLabelKey] != updateRevision {
			continue
		}
		pods = append(pods, p)
	}
	return pods, nil
}

// newestReplicaSet is the ReplicaSet of a Deployment's current revision, nil
// while the controller has not made it yet.
func (c *Client) newestReplicaSet(ctx context.Context, d *unstructured.Unstructured, selector string) (*appsv1.ReplicaSet, error) {
	const revisionAnnotation = "deployment.kubernetes.io/revision"
	list, err := c.kube.AppsV1().ReplicaSets(d.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list ReplicaSets of Deployment %s: %w", d.GetName(), err)
	}
	want := d.GetAnnotations()[revisionAnnotation]
	for i, rs := range list.Items {
		if ownedBy(rs.OwnerReferences, d.GetUID()) && want != "" && rs.Annotations[revisionAnnotation] == want {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
}

// selectorOf reads a workload's spec.selector as a label selector string.
func selectorOf(u *unstructured.Unstructured) (string, error) {
	raw, ok, _ := unstructured.NestedMap(u.Object, "spec", "selector")
	if !ok {
		return "", fmt.Errorf("%s/%s: %w", u.GetKind(), u.GetName(), errNoSelector)
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return "", fmt.Errorf("%s/%s: %w: %w", u.GetKind(), u.GetName(), errNoSelector, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return "", fmt.Errorf("%s/%s: %w: %w", u.GetKind(), u.GetName(), errNoSelector, err)
	}
	return sel.String(), nil
}

// fatalWaiting are the container waiting reasons that do not go away by
// waiting: the kubelet already retried and backs off.
var fatalWaiting = map[string]bool{
	"ImagePullBackOff":  true,
	"CrashLoopBackOff":  true,
	"InvalidImageName":  true,
	"ErrImageNeverPull": true,
}

// problem is what is wrong with a workload's pods; fatal ones end a health
// wait at once.
type problem struct {
	text  string
	fatal bool
}

// podProblem finds the first fatal container state among the pods (by pod
// name, so the message is stable), else the first unschedulable pod with the
// scheduler's message, else the first container waiting for another reason.
func podProblem(pods []corev1.Pod) problem {
	pods = slices.Clone(pods)
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var unschedulable, waiting string
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
		for _, cs := range statuses {
			w := cs.State.Waiting
			if w == nil || w.Reason == "" || w.Reason == "ContainerCreating" || w.Reason == "PodInitializing" {
				continue
			}
			text := fmt.Sprintf("pod %s container %s: %s (image %s", p.Name, cs.Name, w.Reason, imageOf(p, cs))
			if w.Reason == "CrashLoopBackOff" {
				text += fmt.Sprintf(", %d restart", cs.RestartCount)
				if cs.RestartCount != 1 {
					text += "s"
				}
			}
			text += ")"
			if fatalWaiting[w.Reason] {
				return problem{text: text, fatal: true}
			}
			if waiting == "" {
				waiting = text
			}
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				if unschedulable == "" {
					unschedulable = fmt.Sprintf("pod %s unschedulable: %s", p.Name, cond.Message)
				}
			}
		}
	}
	if unschedulable != "" {
		return problem{text: unschedulable}
	}
	return problem{text: waiting}
}

// imageOf is the image a container was asked to run, from the pod spec
// (the status may name a resolved image or nothing while pulling).
func imageOf(p corev1.Pod, cs corev1.ContainerStatus) string {
	for _, c := range append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...) {
		if c.Name == cs.Name {
			return c.Image
		}
	}
	return cs.Image
}

// errNoSelector is returned for a workload whose selector cannot be read.
var errNoSelector = errors.New("workload has no usable selector")
