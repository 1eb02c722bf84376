// Package chat tells people what ferry does. Its input is ferry.Event (data,
// never pre-rendered text); each Notifier renders it for its medium.
//
// The Slack notifier keeps one parent message per (pipeline, revision) with a
// status line per environment, updated in place with chat.update as the
// revision moves; details (resource deltas and quota use, gate results with
// figures, errors with file:line, rollbacks) go into that message's thread.
// While a manual approval gate waits, the parent carries Approve and Reject
// buttons; Interactions serves the clicks after verifying Slack's signature,
// maps the clicker to a ferry identity (config chat.users, by Slack user ID
// or by the account's e-mail from users.info) and hands the decision to a
// Decider (the reconciler), which checks the approver list.
//
// Delivery is at most once from the reader's view: the per-revision state
// (parent ts, environment lines, delivered thread replies) lives in a
// MessageStore the reconciler backs with its durable state, and every
// message carries Slack metadata with ferry's key, so after an ambiguous
// failure the notifier looks the key up before posting again.
//
// The console notifier prints the same events as lines, for local use and the
// demo.
package chat
