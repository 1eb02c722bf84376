// Package harness starts everything ferry runs against on one machine and
// drives ferry only through its real interfaces. It is shared by the demo
// driver (cmd/ferry-demo) and the end-to-end suite (test/e2e), so the two
// never drift apart.
//
// Start brings up, on loopback:
//   - a local Kubernetes control plane (internal/localcluster) with the
//     fixture's cert-manager and Prometheus CRDs installed;
//   - a Git server (internal/gitserver, smart HTTP with a token) holding the
//     vibecode-platform repository from the fixtures package;
//   - a Slack-protocol server (internal/slackserver);
//   - one small HTTP server per environment standing in for its workspace
//     ingress, as the target of the load-test gate: the pods kwok runs serve
//     nothing, because no container really runs;
//   - ferry itself, built from ./cmd/ferry and started as its own process with
//     `ferry run -f ferry.yaml`, where ferry.yaml is the fixture's with every
//     address, secret file and timing replaced for the run.
//
// The World it returns pushes commits (the Git server's builder writes them
// straight into the bare repository, as a push would), sends signed Git
// webhooks and signed Slack clicks on the buttons ferry posted, runs the
// `ferry` CLI, waits for a revision to reach a phase in an environment, and
// reads Helm's release records and live objects for assertions.
//
// Nothing here is imported by ferry's product packages.
package harness
