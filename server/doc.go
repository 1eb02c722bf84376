// Package server is ferry's HTTP surface: health and readiness for the
// platform, Prometheus metrics, verified Git webhooks (a nudge to re-read a
// pipeline's branch head), verified Slack interactions (approve and reject
// buttons), and the JSON API under /api/v1 that the CLI and scripts use.
//
// The server holds no promotion state. It asks a Daemon (the reconciler)
// for statuses and history and hands it decisions, promotions and pauses;
// the daemon checks approver lists and the state, and answers with errors
// wrapping ferry.ErrNotFound, ferry.ErrForbidden or ferry.ErrConflict, which
// the API turns into 404, 403 and 409 with a JSON body {"error": "..."}.
//
// Every API call needs a bearer token from server.apiTokensFile, which
// names the user the daemon records as the actor. Without that file the read
// endpoints are open and every write answers 403, as config documents.
//
// Requests are bounded: header, body and write timeouts on the listener, a
// deadline on every request's context, api.MaxRequestBody on API bodies
// (413 beyond it). A panicking handler is logged with its stack and answered
// 500 with a generic message. No response, log record or error carries a
// token or a webhook or Slack secret.
package server
