package api

import (
	"fmt"
	"net/http"

	"github.com/ferry-gitops/ferry"
)

// Error is the body of every API error response, and the error the client
// returns for one. Status is the HTTP status code.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
}

// Error returns the server's message, which is written for people.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// Unwrap maps the status back to the root package's errors, so a caller can
// test a client error with errors.Is(err, ferry.ErrNotFound) the same way
// as a daemon error.
func (e *Error) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ferry.ErrNotFound
	case http.StatusForbidden:
		return ferry.ErrForbidden
	case http.StatusConflict:
		return ferry.ErrConflict
	}
	return nil
}
