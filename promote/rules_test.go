package promote

import (
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/config"
)

func TestNewRules(t *testing.T) {
	var cases []struct {
		Name string `json:"name"`
		Env  struct {
			Name      string           `json:"name"`
			From      string           `json:"from"`
			OnFailure string           `json:"onFailure"`
			Approval  *config.Approval `json:"approval"`
			Windows   []struct {
				Schedule string `json:"schedule"`
				Duration string `json:"duration"`
			} `json:"windows"`
		} `json:"env"`
		OnFailure string `json:"onFailure"`
		Approvals int    `json:"approvals"`
		Windows   int    `json:"windows"`
		Error     string `json:"error"`
	}
	loadYAML(t, "rules.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			env := config.Environment{Name: tc.Env.Name, From: tc.Env.From, OnFailure: tc.Env.OnFailure, Approval: tc.Env.Approval}
			for _, w := range tc.Env.Windows {
				env.Windows = append(env.Windows, config.Window{Schedule: w.Schedule, Duration: mustDuration(t, w.Duration)})
			}
			r, err := NewRules(env, 20, time.Minute)
			if tc.Error != "" {
				if err == nil || err.Error() != tc.Error {
					t.Fatalf("NewRules error = %v, want %q", err, tc.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			approvals := 0
			if r.Approval != nil {
				approvals = r.Approval.Required
			}
			if r.OnFailure != tc.OnFailure || approvals != tc.Approvals || len(r.Windows) != tc.Windows || r.HistoryLimit != 20 || r.RetryAfter != time.Minute {
				t.Fatalf("NewRules = onFailure %s, %d approvals, %d windows, history %d, retry %s", r.OnFailure, approvals, len(r.Windows), r.HistoryLimit, r.RetryAfter)
			}
		})
	}
}
