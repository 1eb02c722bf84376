// Package e2e runs the ferry binary as its own process against a real local
// control plane, Git server and Slack-protocol server (internal/harness), and
// checks the story `make demo` tells with assertions on values: Helm's
// release records and the revisions they carry, live objects, the phases and
// gate figures of `ferry history -o json`, the exact set of chat messages,
// and that a webhook is acted on long before the branch poll.
//
// The story runs once, step by step, as subtests of TestStory; the checks of
// the whole run come after it, on the same servers.
package e2e
