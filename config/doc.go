// Package config reads ferry.yaml: the pipelines ferry runs, their
// environments and gates, and the services they share.
//
// Decoding is strict: an unknown key is a problem that names the closest known
// key. Defaults come from the types' `default` tags and from defaults.go.
// Validation reports every problem at once, each with the file, line and path
// of the key at fault (pipelines[0].environments[2].gates.loadTest.rate), so a
// typo is caught before the daemon starts.
//
// Checks that need Helm (the `--set` syntax) are passed in through Options,
// so this package never imports Helm.
package config
