//go:build tools

// Package tools pins kwok, the simulated kubelet. It has a module of its own
// because its requirements would otherwise raise the API server's dependencies.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
