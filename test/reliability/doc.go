// Package reliability proves that ferry keeps its promises when its own
// process or the services it depends on fail (issue 14): a promotion is
// neither lost nor applied twice, and nothing is posted twice in chat.
//
// The tests run the real `ferry run` binary, built with `-tags ferrytest`
// so that it has the crash points of reconciler/crashpoint.go, against the
// end-to-end harness (internal/harness): a local control plane, a Git
// server and a Slack-protocol server on loopback. The pipeline is the
// fixture's, cut to its dev environment to keep each case short; timings
// are at test scale.
package reliability
