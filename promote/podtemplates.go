package promote

import (
	"encoding/json"
	"fmt"

	"github.com/ferry-gitops/ferry"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podTemplate is the pod a workload object creates, decoded.
type podTemplate struct {
	ref       ferry.ObjectRef
	namespace string
	// path is where the pod spec sits in the object, for messages.
	path string
	meta metav1.ObjectMeta
	spec corev1.PodSpec
}

// templatePath says where a workload kind keeps its pod template; ok is
// false for kinds that have none.
func templatePath(kind string) (path []string, ok bool) {
	switch kind {
	case "Pod":
		return nil, true
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		return []string{"spec", "template"}, true
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template"}, true
	}
	return nil, false
}

// podTemplates decodes the pod template of every workload among objects;
// objects without a namespace are in the release's.
func podTemplates(objects []ferry.Object, releaseNamespace string) ([]podTemplate, []string) {
	var out []podTemplate
	var problems []string
	for _, o := range objects {
		path, ok := templatePath(o.Kind)
		if !ok {
			continue
		}
		node := any(o.Content)
		where := ""
		for _, key := range path {
			m, _ := node.(map[string]any)
			node = m[key]
			where += key + "."
		}
		if node == nil {
			problems = append(problems, fmt.Sprintf("%s: no pod template at %s", o.ObjectRef, where[:max(len(where)-1, 0)]))
			continue
		}
		var tmpl corev1.PodTemplateSpec
		b, err := json.Marshal(node)
		if err == nil {
			err = json.Unmarshal(b, &tmpl)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: decoding the pod template: %v", o.ObjectRef, err))
			continue
		}
		ns := o.Namespace
		if ns == "" {
			ns = releaseNamespace
		}
		ref := o.ObjectRef
		ref.Namespace = ns // workloads are namespaced: name the namespace they land in
		out = append(out, podTemplate{ref: ref, namespace: ns, path: where + "spec", meta: tmpl.ObjectMeta, spec: tmpl.Spec})
	}
	return out, problems
}
