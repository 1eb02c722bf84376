package config_test

import (
	"errors"
	"testing"

	"github.com/ferry-gitops/ferry/config"
)

// FuzzLoad feeds arbitrary text to the decoder and validator: they must
// never panic, and must return either a config or problems, never both.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("pipelines: []\n"))
	f.Add([]byte("a: &x [*x, *x]\n"))
	f.Add([]byte("pipelines:\n  - <<: {name: a}\n    environments: [{name: dev, windows: [{schedule: CRON_TZ=UTC, duration: 1h}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data, helmOptions)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c, err)
		}
		var ps config.Problems
		if err != nil && (!errors.As(err, &ps) || len(ps) == 0) {
			t.Fatalf("error is not a list of problems: %v", err)
		}
		if c != nil {
			for i := range c.Pipelines {
				_ = c.Pipelines[i].Summary()
			}
		}
	})
}
