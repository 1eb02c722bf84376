package chat

import (
	"context"

	"github.com/ferry-gitops/ferry"
)

// Notifier tells people about an event. Implementations render the event
// themselves. Notify returns nil once the event is delivered; an error means
// it was not (or not completely) delivered and the caller keeps it to try
// again later: delivering the same event twice shows it once.
type Notifier interface {
	Notify(ctx context.Context, ev ferry.Event) error
}
