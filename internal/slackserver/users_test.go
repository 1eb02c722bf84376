package slackserver

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/slack-go/slack"
)

func TestUsersInfo(t *testing.T) {
	s := New(token)
	defer s.Close()
	s.AddUser(User{ID: "U0ALICE01", Name: "alice", Email: "Alice@Example.com"}, User{ID: "U0NOMAIL1", Name: "nomail"})
	c := client(s, token)
	ctx := context.Background()

	u, err := c.GetUserInfoContext(ctx, "U0ALICE01")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "U0ALICE01" || u.Name != "alice" || u.Profile.Email != "Alice@Example.com" || u.TeamID != "T0FERRY01" {
		t.Errorf("users.info = %+v (profile %+v), want alice with her e-mail", u, u.Profile)
	}

	u, err = c.GetUserInfoContext(ctx, "U0NOMAIL1")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "U0NOMAIL1" || u.Profile.Email != "" {
		t.Errorf("users.info = %+v, want no e-mail", u)
	}

	var slackErr slack.SlackErrorResponse
	if _, err := c.GetUserInfoContext(ctx, "U0NOBODY1"); !errors.As(err, &slackErr) || slackErr.Err != "user_not_found" {
		t.Errorf("unknown user: error = %v, want user_not_found", err)
	}

	// Re-adding replaces the member.
	s.AddUser(User{ID: "U0ALICE01", Name: "alice", Email: "alice@new.example"})
	if u, err := c.GetUserInfoContext(ctx, "U0ALICE01"); err != nil || u.Profile.Email != "alice@new.example" {
		t.Errorf("after AddUser again: %+v, %v; want the new e-mail", u, err)
	}

	if _, err := client(s, "xoxb-other").GetUserInfoContext(ctx, "U0ALICE01"); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("wrong token: error = %v, want invalid_auth", err)
	}

	var got []string
	for _, c := range s.Calls("users.info") {
		got = append(got, c.User+" "+c.Outcome)
	}
	want := []string{"U0ALICE01 ok", "U0NOMAIL1 ok", "U0NOBODY1 error: user_not_found", "U0ALICE01 ok", "U0ALICE01 error: invalid_auth"}
	if !slices.Equal(got, want) {
		t.Errorf("users.info calls = %q, want %q", got, want)
	}
}

func TestUsersInfoFaults(t *testing.T) {
	s := New(token)
	defer s.Close()
	s.AddUser(User{ID: "U0ALICE01", Name: "alice", Email: "alice@example.com"})
	s.Inject("users.info", Fault{Error: "missing_scope"}, Fault{Status: 500})
	c := client(s, token)
	ctx := context.Background()

	if _, err := c.GetUserInfoContext(ctx, "U0ALICE01"); err == nil || err.Error() != "missing_scope" {
		t.Errorf("first call: error = %v, want missing_scope", err)
	}
	var status slack.StatusCodeError
	if _, err := c.GetUserInfoContext(ctx, "U0ALICE01"); !errors.As(err, &status) || status.Code != 500 {
		t.Errorf("second call: error = %v, want HTTP 500", err)
	}
	if u, err := c.GetUserInfoContext(ctx, "U0ALICE01"); err != nil || u.Profile.Email != "alice@example.com" {
		t.Errorf("third call: %+v, %v; want alice's e-mail", u, err)
	}
}
