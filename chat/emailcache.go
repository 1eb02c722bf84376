package chat

import (
	"context"
	"sync"
	"time"
)

// defaultEmailCacheTTL is how long a looked-up e-mail address is reused.
const defaultEmailCacheTTL = 10 * time.Minute

// maxLookupTimeout bounds one users.info call.
const maxLookupTimeout = 10 * time.Second

// emailCache remembers Slack users' e-mail addresses by user ID. Concurrent
// lookups of one user share a single call; a successful answer is reused
// until it is ttl old, a failure is not kept.
type emailCache struct {
	ttl   time.Duration
	now   func() time.Time
	fetch func(ctx context.Context, userID string) (string, error)

	mu      sync.Mutex
	entries map[string]*emailEntry
}

type emailEntry struct {
	done  chan struct{} // closed when email and err are set
	email string
	err   error
	at    time.Time
}

func newEmailCache(ttl time.Duration, now func() time.Time, fetch func(context.Context, string) (string, error)) *emailCache {
	return &emailCache{ttl: ttl, now: now, fetch: fetch, entries: map[string]*emailEntry{}}
}

// email returns the user's e-mail address ("" when Slack gives none).
func (c *emailCache) email(ctx context.Context, userID string) (string, error) {
	c.mu.Lock()
	if e, ok := c.entries[userID]; ok {
		select {
		case <-e.done:
			if c.now().Sub(e.at) < c.ttl {
				c.mu.Unlock()
				return e.email, nil
			}
		default: // in flight: share its answer
			c.mu.Unlock()
			select {
			case <-e.done:
				return e.email, e.err
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	c.sweep()
	e := &emailEntry{done: make(chan struct{})}
	c.entries[userID] = e
	c.mu.Unlock()

	email, err := c.fetch(ctx, userID)

	c.mu.Lock()
	e.email, e.err, e.at = email, err, c.now()
	// Keep only answers worth reusing: a failure is retried on the next
	// click, and an empty address may be a missing scope being fixed.
	if (err != nil || email == "") && c.entries[userID] == e {
		delete(c.entries, userID)
	}
	close(e.done)
	c.mu.Unlock()
	return email, err
}

// sweep drops expired answers so the cache holds only recent clickers; c.mu
// is held.
func (c *emailCache) sweep() {
	now := c.now()
	for id, e := range c.entries {
		select {
		case <-e.done:
			if now.Sub(e.at) >= c.ttl {
				delete(c.entries, id)
			}
		default:
		}
	}
}
