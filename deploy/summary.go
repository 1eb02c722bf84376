package deploy

import (
	"encoding/json"

	ferry "github.com/ferry-gitops/ferry"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Quota resource names that Summarize fills, as a ResourceQuota spells them.
const (
	QuotaPods             = "pods"
	QuotaRequestsCPU      = "requests.cpu"
	QuotaRequestsMemory   = "requests.memory"
	QuotaLimitsCPU        = "limits.cpu"
	QuotaLimitsMemory     = "limits.memory"
	QuotaRequestsEphemera = "requests.ephemeral-storage"
	QuotaLimitsEphemera   = "limits.ephemeral-storage"
	QuotaRequestsStorage  = "requests.storage"
	QuotaPVCs             = "persistentvolumeclaims"
)

// workload is one pod template and how many pods run from it.
type workload struct {
	kind, name string
	replicas   int64
	pod        map[string]any // the pod spec
	claims     []any          // StatefulSet volumeClaimTemplates
}

// Summarize totals what the objects ask of their namespace, counting each
// pod the way the ResourceQuota admission counts it (requests defaulted from
// limits, init and sidecar containers and pod overhead through Kubernetes'
// own PodRequests/PodLimits), times the replicas the manifest declares.
// Hook pods are included: they run while the release's pods run. A
// DaemonSet counts one pod (its real count depends on the nodes). AtMaxScale
// repeats the sum with every HorizontalPodAutoscaler's target at its
// maxReplicas. A ResourceQuota among the objects becomes Quota ("rendered").
func Summarize(objects []ferry.Object) ferry.ResourceSummary {
	var loads []workload
	maxReplicas := map[string]int64{}
	sum := ferry.ResourceSummary{}
	storage := ferry.ResourceList{}
	for _, o := range objects {
		c := o.Content
		switch o.Kind {
		case "Pod":
			loads = append(loads, workload{kind: o.Kind, name: o.Name, replicas: 1, pod: mapAt(c, "spec")})
		case "Deployment", "ReplicaSet", "ReplicationController":
			loads = append(loads, workload{kind: o.Kind, name: o.Name, replicas: intAt(c, 1, "spec", "replicas"), pod: mapAt(c, "spec", "template", "spec")})
		case "StatefulSet":
			claims, _ := mapAt(c, "spec")["volumeClaimTemplates"].([]any)
			loads = append(loads, workload{kind: o.Kind, name: o.Name, replicas: intAt(c, 1, "spec", "replicas"), pod: mapAt(c, "spec", "template", "spec"), claims: claims})
		case "DaemonSet":
			loads = append(loads, workload{kind: o.Kind, name: o.Name, replicas: 1, pod: mapAt(c, "spec", "template", "spec")})
		case "Job":
			loads = append(loads, workload{kind: o.Kind, name: o.Name, replicas: jobPods(mapAt(c, "spec")), pod: mapAt(c, "spec", "template", "spec")})
		case "CronJob":
			job := mapAt(c, "spec", "jobTemplate", "spec")
			loads = append(loads, workload{kind: o.Kind, name: o.Name, replicas: jobPods(job), pod: mapAt(job, "template", "spec")})
		case "PersistentVolumeClaim":
			addClaim(storage, c, 1)
		case "HorizontalPodAutoscaler":
			ref := mapAt(c, "spec", "scaleTargetRef")
			kind, _ := ref["kind"].(string)
			name, _ := ref["name"].(string)
			maxReplicas[kind+"/"+name] = intAt(c, 0, "spec", "maxReplicas")
		case "ResourceQuota":
			sum.Quota = quantities(mapAt(c, "spec", "hard"))
			sum.QuotaSource = "rendered"
		}
	}
	sum.Requested = total(loads, nil, storage)
	if len(maxReplicas) > 0 {
		sum.AtMaxScale = total(loads, maxReplicas, storage)
	} else {
		sum.AtMaxScale = sum.Requested
	}
	return sum
}

// total adds up the workloads, with replicas overridden where scaled names
// a workload, plus the standalone claims.
func total(loads []workload, scaled map[string]int64, claims ferry.ResourceList) ferry.ResourceList {
	out := ferry.ResourceList{}
	for k, v := range claims {
		out[k] += v
	}
	for _, w := range loads {
		n := w.replicas
		if m, ok := scaled[w.kind+"/"+w.name]; ok && m > 0 {
			n = m
		}
		if n == 0 {
			continue
		}
		pod := podFrom(w.pod)
		if pod == nil {
			continue
		}
		out[QuotaPods] += n
		reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
		lims := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})
		addQuota(out, QuotaRequestsCPU, reqs, corev1.ResourceCPU, n)
		addQuota(out, QuotaRequestsMemory, reqs, corev1.ResourceMemory, n)
		addQuota(out, QuotaRequestsEphemera, reqs, corev1.ResourceEphemeralStorage, n)
		addQuota(out, QuotaLimitsCPU, lims, corev1.ResourceCPU, n)
		addQuota(out, QuotaLimitsMemory, lims, corev1.ResourceMemory, n)
		addQuota(out, QuotaLimitsEphemera, lims, corev1.ResourceEphemeralStorage, n)
		for _, claim := range w.claims {
			if m, ok := claim.(map[string]any); ok {
				addClaim(out, m, n)
			}
		}
	}
	return out
}

// podFrom decodes a pod spec and applies the API server's defaulting that
// quota sees: a container with a limit and no request requests its limit.
func podFrom(spec map[string]any) *corev1.Pod {
	if spec == nil {
		return nil
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(data, &pod.Spec); err != nil {
		return nil
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			defaultRequests(&cs[i].Resources)
		}
	}
	if pod.Spec.Resources != nil {
		defaultRequests(pod.Spec.Resources)
	}
	return pod
}

func defaultRequests(r *corev1.ResourceRequirements) {
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; ok {
			continue
		}
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		r.Requests[name] = q.DeepCopy()
	}
}

// addQuota adds n times the named resource, CPU in millicores and the rest
// in whole units.
func addQuota(out ferry.ResourceList, key string, list corev1.ResourceList, name corev1.ResourceName, n int64) {
	q, ok := list[name]
	if !ok || q.IsZero() {
		return
	}
	if name == corev1.ResourceCPU {
		out[key] += n * q.MilliValue()
		return
	}
	out[key] += n * q.Value()
}

// addClaim counts one PersistentVolumeClaim (or claim template) n times.
func addClaim(out ferry.ResourceList, claim map[string]any, n int64) {
	out[QuotaPVCs] += n
	if q, ok := quantityOf(mapAt(claim, "spec", "resources", "requests")["storage"]); ok {
		out[QuotaRequestsStorage] += n * q.Value()
	}
}

// quantities converts a ResourceQuota's hard list: CPU entries in
// millicores, everything else in whole units.
func quantities(m map[string]any) ferry.ResourceList {
	out := ferry.ResourceList{}
	for k, v := range m {
		q, ok := quantityOf(v)
		if !ok {
			continue
		}
		out[k] = quotaAmount(k, q.MilliValue(), q.Value())
	}
	return out
}

// quantityOf reads a quantity written as a string or a bare number.
func quantityOf(v any) (resource.Quantity, bool) {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case float64, int64, int, json.Number:
		data, _ := json.Marshal(t)
		s = string(data)
	default:
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

// jobPods is how many pods a Job runs at once: parallelism (default 1),
// never more than completions when that is set.
func jobPods(spec map[string]any) int64 {
	p := intAt(spec, 1, "parallelism")
	if c := intAt(spec, -1, "completions"); c >= 0 && c < p {
		return c
	}
	return p
}

// mapAt walks nested maps, returning nil where the path ends early.
func mapAt(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

// intAt reads a whole number at the path, or def when it is absent.
func intAt(m map[string]any, def int64, keys ...string) int64 {
	parent := mapAt(m, keys[:len(keys)-1]...)
	switch v := parent[keys[len(keys)-1]].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return def
}
