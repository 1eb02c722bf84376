package gitserver

import "sync"

// Stats counts what the server has served. An advertisement is the ref list
// a client reads first (ls-remote costs exactly one); a negotiation is a
// client asking for objects (a fetch that wants something).
type Stats struct {
	// Advertisements counts ref advertisements for git-upload-pack.
	Advertisements int
	// Negotiations counts upload-pack requests that asked for objects (a
	// protocol v2 ls-refs request is not one).
	Negotiations int
	// BytesOut counts response bytes sent to clients (HTTP bodies, SSH stdout).
	BytesOut int64
	// BytesIn counts request bytes received from clients.
	BytesIn int64
	// AuthFailures counts requests refused for bad or missing credentials.
	AuthFailures int
}

type counter struct {
	mu sync.Mutex
	s  Stats
}

func (c *counter) add(f func(*Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *counter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *counter) reset() {
	c.mu.Lock()
	c.s = Stats{}
	c.mu.Unlock()
}
