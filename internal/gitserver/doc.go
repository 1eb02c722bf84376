// Package gitserver hosts real Git repositories on loopback for tests, the
// end-to-end suite and the demo: smart HTTP through the machine's
// `git http-backend` and SSH through golang.org/x/crypto/ssh running
// `git upload-pack`. It builds commits with `git fast-import`, so a test can
// create thousands of commits in one process run, and it counts what it serves
// so a test can prove that an idle poll fetched no objects.
//
// It is never imported by the product's packages.
package gitserver
