package deploy

import (
	"context"

	ferry "github.com/ferry-gitops/ferry"
)

// Quota reads the hard limits and usage of the ResourceQuotas in force in a
// namespace (see Cluster.Quota); hard is nil when there is none. It
// satisfies promote.QuotaReader.
func (c *Client) Quota(ctx context.Context, namespace string) (hard, used ferry.ResourceList, err error) {
	var sum ferry.ResourceSummary
	if err := c.cluster.Quota(ctx, namespace, &sum); err != nil {
		return nil, nil, err
	}
	return sum.Quota, sum.Used, nil
}
