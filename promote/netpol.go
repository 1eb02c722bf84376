package promote

import (
	"encoding/json"
	"fmt"

	"github.com/ferry-gitops/ferry"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// networkPolicyCoverage finds workloads whose pods no rendered NetworkPolicy
// in their namespace selects.
func networkPolicyCoverage(objects []ferry.Object, pods []podTemplate, releaseNamespace string) (violations, problems []string) {
	type selector struct {
		namespace string
		sel       labels.Selector
	}
	var selectors []selector
	for _, o := range objects {
		if o.Kind != "NetworkPolicy" {
			continue
		}
		var np networkingv1.NetworkPolicy
		b, err := json.Marshal(o.Content)
		if err == nil {
			err = json.Unmarshal(b, &np)
		}
		var sel labels.Selector
		if err == nil {
			sel, err = metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: reading spec.podSelector: %v", o.ObjectRef, err))
			continue
		}
		ns := o.Namespace
		if ns == "" {
			ns = releaseNamespace
		}
		selectors = append(selectors, selector{namespace: ns, sel: sel})
	}
	for _, pt := range pods {
		covered := false
		for _, s := range selectors {
			if s.namespace == pt.namespace && s.sel.Matches(labels.Set(pt.meta.Labels)) {
				covered = true
				break
			}
		}
		if !covered {
			violations = append(violations, fmt.Sprintf("%s: no NetworkPolicy selects its pods (labels %s)", pt.ref, labelText(pt.meta.Labels)))
		}
	}
	return violations, problems
}

func labelText(l map[string]string) string {
	if len(l) == 0 {
		return "none"
	}
	return labels.Set(l).String()
}
