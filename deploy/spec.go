package deploy

import (
	"slices"

	"github.com/ferry-gitops/ferry/config"
)

// SpecFor is the render spec of one environment of a pipeline: the chart,
// the pipeline's values files then the environment's, its --set and
// --set-string overrides, release and namespace. Capabilities stay nil
// (helm template's defaults) until the caller reads them from the cluster.
func SpecFor(p *config.Pipeline, e *config.Environment) RenderSpec {
	return RenderSpec{
		Chart:       p.Chart,
		ValuesFiles: append(slices.Clone(p.Values), e.Values...),
		Set:         slices.Clone(e.Set),
		SetString:   slices.Clone(e.SetString),
		Release:     e.Release,
		Namespace:   e.Namespace,
	}
}
