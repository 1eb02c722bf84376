// Package api holds the JSON shapes of ferry's HTTP API v1 and a client for
// it. The server and the CLI both use these definitions, so a field renamed on
// one side cannot silently drift from the other.
//
// Statuses and promotions travel as the root package's ferry.EnvironmentStatus
// and ferry.Promotion; this package adds only what the API needs beyond them.
package api

import (
	"net/url"
)

// Prefix is the path every API v1 endpoint starts with.
const Prefix = "/api/v1"

// MaxRequestBody bounds a request body the server reads: a decision carries a
// revision and a short reason, nothing more.
const MaxRequestBody = 16 << 10

// MaxReason is the longest rejection reason, in characters, the server accepts.
const MaxReason = 1000

// MaxHistoryLimit is the largest history page the server returns.
const MaxHistoryLimit = 1000

// Via values say where a decision came from; the server accepts only these.
const (
	ViaAPI = "api"
	ViaCLI = "cli"
)

// Pipeline describes one configured pipeline: what `GET /api/v1/pipelines`
// lists. It carries no repository URL or credentials.
type Pipeline struct {
	Name   string `json:"name"`
	Branch string `json:"branch"`
	Chart  string `json:"chart"`
	// Webhook reports whether /hooks/git/{name} accepts pushes.
	Webhook bool `json:"webhook"`
	// Environments are in promotion order.
	Environments []Environment `json:"environments"`
}

// Environment describes one configured environment of a pipeline.
type Environment struct {
	Name string `json:"name"`
	From string `json:"from,omitempty"`
	// Gates lists the gates in the order they run.
	Gates []string `json:"gates,omitempty"`
	// Approvers and RequiredApprovals describe a manual environment; both
	// are empty for an automatic one.
	Approvers         []string `json:"approvers,omitempty"`
	RequiredApprovals int      `json:"requiredApprovals,omitempty"`
}

// DecisionRequest is the body of approve and reject.
type DecisionRequest struct {
	// Revision is the commit SHA decided on, full or an unambiguous prefix
	// (at least 4 hex digits) of the revision waiting.
	Revision string `json:"revision"`
	// Reason says why; required for a rejection.
	Reason string `json:"reason,omitempty"`
	// Via is ViaAPI (the default) or ViaCLI.
	Via string `json:"via,omitempty"`
}

// PromoteRequest is the body of promote.
type PromoteRequest struct {
	// Revision is the commit SHA to bring to the environment, full or an
	// unambiguous prefix of a revision that succeeded upstream.
	Revision string `json:"revision"`
}

// WriteResult answers every successful write.
type WriteResult struct {
	// Revision is the full SHA the write acted on, where it names one.
	Revision string `json:"revision,omitempty"`
	// Message says what was recorded, in one line for people.
	Message string `json:"message"`
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready  bool `json:"ready"`
	Leader bool `json:"leader"`
}

// PipelinesPath is the path listing pipelines.
func PipelinesPath() string { return Prefix + "/pipelines" }

// EnvironmentsPath lists the environment statuses of one pipeline, or of all
// pipelines when pipeline is empty.
func EnvironmentsPath(pipeline string) string {
	if pipeline == "" {
		return Prefix + "/environments"
	}
	return PipelinesPath() + "/" + url.PathEscape(pipeline) + "/environments"
}

// EnvironmentPath is one environment's status; action, when not empty, is a
// sub-resource such as "promotions", "approve" or "pause".
func EnvironmentPath(pipeline, env, action string) string {
	p := EnvironmentsPath(pipeline) + "/" + url.PathEscape(env)
	if action != "" {
		p += "/" + action
	}
	return p
}
