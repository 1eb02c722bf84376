// Package reconciler runs ferry's pipelines: it follows each pipeline's branch,
// carries revisions from environment to environment through promote's state
// machine, acts on Kubernetes through deploy, and tells chat through a durable
// outbox.
//
// Every environment is reconciled by one step at a time, taken from a
// rate-limited work queue: observe (the durable state, the branch head, the
// environment it takes revisions from), decide (promote's Rules.Next), persist
// (the new state and the chat events it produced, in one conditional write),
// then act (admission gates, Helm apply, verification gates, rollback) and feed
// the result back in as the next event. Because the intent is written before
// acting, a restart finds an Applying promotion and resumes it instead of
// starting over.
//
// The state lives in one ConfigMap per pipeline in the state namespace,
// written with optimistic concurrency on its resourceVersion. Several
// replicas may run: all of them serve reads and record approvals, pauses and
// webhook nudges into the shared state; only the holder of the leader Lease
// acts. A new leader first writes its identity into every pipeline's state
// (the fence), so a deposed leader's next conditional write conflicts, it
// re-reads, sees it is fenced out and stops before calling Helm.
//
// Errors are sorted by what must happen next: a bad render (values, template,
// schema) is terminal for that revision and told once; a wait carries a
// wake-up time; anything else is retried with backoff.
package reconciler
