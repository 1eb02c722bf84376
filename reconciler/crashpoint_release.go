//go:build !ferrytest

package reconciler

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-gitops/ferry/config"
)

// crashpoint is a test hook (see crashpoint.go); it does nothing here.
func crashpoint(string) {}

// crashWhileApplying is a test hook (see crashpoint.go); it does nothing here.
func crashWhileApplying(context.Context, *config.Environment) (stop func()) { return func() {} }

// registerTestMetrics is a test hook (see crashpoint.go); it does nothing here.
func registerTestMetrics(prometheus.Registerer) {}
