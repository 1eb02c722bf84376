package reconciler

// Crash points: the named places in a promotion where the reliability suite
// (test/reliability) makes a ferry built with `-tags ferrytest` exit hard
// (os.Exit(3), no cleanup) or send itself SIGTERM, to prove that a restart
// neither loses nor repeats anything. A release build compiles
// crashpoint_release.go, where every hook is an empty function.
//
// A ferrytest build reads FERRY_TEST_CRASH_AT=<point> (exit at the first
// pass) and FERRY_TEST_SIGTERM_AT=<point> (SIGTERM at the first pass, then
// go on), and counts the passes of every point in the metric
// ferry_test_point_passes_total{point}.
const (
	// CrashIntentRecorded: the promotion is recorded Applying (the intent),
	// Helm is not called yet.
	CrashIntentRecorded = "intent-recorded"
	// CrashHelmApplying: Helm has stored the new release revision as
	// pending-install or pending-upgrade and is still working (running the
	// chart's pre-upgrade hook or applying objects).
	CrashHelmApplying = "helm-applying"
	// CrashHelmApplied: Helm returned the new revision; the state does not
	// record it yet.
	CrashHelmApplied = "helm-applied"
	// CrashVerifying: the health gate has passed, the load test has not run.
	CrashVerifying = "verifying"
	// CrashChatBeforePost: the event is recorded in the outbox; nothing of
	// it is sent to chat yet.
	CrashChatBeforePost = "chat-before-post"
	// CrashChatPosted: Slack answered a revision message's post with its ts;
	// the ts is not recorded yet.
	CrashChatPosted = "chat-posted"
	// CrashChatReplyPosted: a thread reply is posted; it is not recorded as
	// delivered yet.
	CrashChatReplyPosted = "chat-reply-posted"
	// CrashChatDelivered: the notifier delivered an outbox event; the event
	// is not removed from the outbox yet.
	CrashChatDelivered = "chat-delivered"
	// pointReconcile is passed at the start of every reconcile of an
	// environment; the suite counts it to measure idle cycles.
	pointReconcile = "reconcile"
)

// CrashPoints lists the crash points in the order a promotion passes them.
func CrashPoints() []string {
	return []string{
		CrashChatBeforePost, CrashChatPosted, CrashIntentRecorded, CrashHelmApplying,
		CrashHelmApplied, CrashVerifying, CrashChatReplyPosted, CrashChatDelivered,
	}
}
