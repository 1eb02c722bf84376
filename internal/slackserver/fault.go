package slackserver

// Fault is one scripted misbehaviour, consumed by the next call of the method
// it was injected for.
type Fault struct {
	// Status, when non-zero, is the HTTP status answered instead of serving
	// the call (429, 500, 503…). The call has no effect.
	Status int
	// RetryAfter is the Retry-After header sent with Status; empty sends none.
	RetryAfter string
	// Error answers HTTP 200 with {"ok":false,"error":Error}; the call has no
	// effect.
	Error string
	// AcceptThenHang performs the call (the message is stored) and then never
	// answers, until the client gives up or the server closes: the ambiguous
	// failure a client cannot tell from a lost request.
	AcceptThenHang bool
}

// Inject queues faults for method (for example "chat.postMessage"); each
// call of that method consumes the first remaining one.
func (s *Server) Inject(method string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], faults...)
}

// nextFault pops the next fault for method; ok is false when none is queued.
func (s *Server) nextFault(method string) (Fault, bool) {
	q := s.faults[method]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[method] = q[1:]
	return q[0], true
}
