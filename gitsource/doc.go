// Package gitsource follows one branch of one Git repository for ferry.
//
// A Source keeps a bare repository in a cache directory that survives
// restarts. Head asks the server for the branch's commit through a ref
// advertisement only (what `git ls-remote` does), so polling an unchanged
// branch transfers no objects and writes nothing. Fetch brings in what a
// commit needs with a full-history fetch and a forced refspec, so a branch
// force-pushed back to an older commit, or to an unrelated history, keeps
// working. Snapshot reads one commit's files straight from Git objects as an
// fs.FS, without a work tree. Watch turns all of this into a stream of
// revisions, polled on a jittered interval and nudged at once by a verified
// push webhook (NewWebhookHandler).
//
// A webhook is only a nudge: Git hosts sign their payloads but carry no signed
// timestamp, so a replayed payload is indistinguishable from a fresh one. The
// revision to deploy is always the head read from the server.
package gitsource
