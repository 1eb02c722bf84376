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

// counter accumulates Stats. A request is counted when the server side has
// finished with it, which can be just after the client returned; so reading
// or resetting first waits until no request is in flight, and a test sees
// exactly the requests its client calls made.
type counter struct {
	mu       sync.Mutex
	idle     *sync.Cond
	inflight int
	s        Stats
}

func (c *counter) begin() {
	c.mu.Lock()
	c.inflight++
	c.mu.Unlock()
}

func (c *counter) end() {
	c.mu.Lock()
	c.inflight--
	if c.inflight == 0 && c.idle != nil {
		c.idle.Broadcast()
	}
	c.mu.Unlock()
}

func (c *counter) add(f func(*Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

// waitIdle must be called with c.mu held.
func (c *counter) waitIdle() {
	if c.idle == nil {
		c.idle = sync.NewCond(&c.mu)
	}
	for c.inflight > 0 {
		c.idle.Wait()
	}
}

func (c *counter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitIdle()
	return c.s
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitIdle()
	c.s = Stats{}
}
