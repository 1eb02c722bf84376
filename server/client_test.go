package server

import (
	"errors"
	"net/http"
	"testing"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

func TestClientRecordsWritesInTheAuditTrail(t *testing.T) {
	ts := startServer(t, loadTestConfig(t, nil), nil)
	alice, err := api.NewClient(ts.URL, aliceToken, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := alice.Approve(ctx, "shop", "prod", api.DecisionRequest{Revision: "9f8e7d6", Via: api.ViaCLI}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SetPaused(ctx, "shop", "prod", true); err != nil {
		t.Fatal(err)
	}
	got, err := alice.Audit(ctx, "shop", "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []ferry.AuditEntry{
		{Time: t0, Actor: "alice", Pipeline: "shop", Environment: "prod", Action: "pause"},
		{Time: t0, Actor: "alice", Pipeline: "shop", Environment: "prod", Action: "approve", Revision: shaB},
	}
	if !jsonEqual(t, got, want) {
		t.Errorf("audit = %+v\nwant %+v", got, want)
	}
	if got, err := alice.Audit(ctx, "shop", "prod", 1); err != nil || len(got) != 1 || got[0].Action != "pause" {
		t.Errorf("audit limit 1 = %+v, %v", got, err)
	}
}

func TestClientErrorsMatchTheRootErrors(t *testing.T) {
	ts := startServer(t, loadTestConfig(t, nil), nil)
	tests := []struct {
		name       string
		token      string
		call       func(c *api.Client) error
		wantStatus int
		wantIs     error
		wantMsg    string
	}{
		{
			name: "unknown environment is ErrNotFound", token: carolToken, wantStatus: 404, wantIs: ferry.ErrNotFound,
			call:    func(c *api.Client) error { _, err := c.Environment(t.Context(), "shop", "qa"); return err },
			wantMsg: `pipeline shop has no environment "qa" (environments: dev, staging, prod)`,
		},
		{
			name: "non-approver is ErrForbidden", token: carolToken, wantStatus: 403, wantIs: ferry.ErrForbidden,
			call: func(c *api.Client) error {
				_, err := c.Approve(t.Context(), "shop", "prod", api.DecisionRequest{Revision: shaB})
				return err
			},
			wantMsg: "forbidden: carol is not an approver for prod",
		},
		{
			name: "revision not waiting is ErrConflict", token: aliceToken, wantStatus: 409, wantIs: ferry.ErrConflict,
			call: func(c *api.Client) error {
				_, err := c.Reject(t.Context(), "shop", "prod", api.DecisionRequest{Revision: shaA, Reason: "old"})
				return err
			},
			wantMsg: "conflict: 1a2b3c4 is not waiting for approval in prod",
		},
		{
			name: "wrong token is 401 and none of the root errors", token: "not-a-token-at-all", wantStatus: 401,
			call:    func(c *api.Client) error { _, err := c.Pipelines(t.Context()); return err },
			wantMsg: "invalid bearer token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := api.NewClient(ts.URL+"/", tt.token, ts.Client())
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			var e *api.Error
			if !errors.As(err, &e) || e.Status != tt.wantStatus || e.Message != tt.wantMsg {
				t.Fatalf("err = %#v, want status %d and %q", err, tt.wantStatus, tt.wantMsg)
			}
			for _, root := range []error{ferry.ErrNotFound, ferry.ErrForbidden, ferry.ErrConflict} {
				if errors.Is(err, root) != (root == tt.wantIs) {
					t.Errorf("errors.Is(err, %v) = %t", root, errors.Is(err, root))
				}
			}
		})
	}
}

func TestNewClientRefusesBadAddresses(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", `server address "127.0.0.1:8080": want http://host:port or https://host:port`},
		{"ftp://ferry", `server address "ftp://ferry": want http://host:port or https://host:port`},
		{"http://bob:s3cret@ferry:8080", `server address "http://bob:xxxxx@ferry:8080": credentials belong in the token, not the URL`},
	}
	for _, tt := range tests {
		if _, err := api.NewClient(tt.addr, "", http.DefaultClient); err == nil || err.Error() != tt.want {
			t.Errorf("NewClient(%q) = %v, want %q", tt.addr, err, tt.want)
		}
	}
}
