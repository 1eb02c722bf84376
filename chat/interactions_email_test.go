package chat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

// clock is a settable clock for the replay window and the e-mail cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// emailRig is an interactions handler whose chat.users has e-mail keys, the
// Slack server it looks users up on, and the decider behind it.
type emailRig struct {
	h     *Interactions
	srv   *httptest.Server
	slack *slackserver.Server
	dec   *approvers
	clock *clock
}

// Members of the test workspace.
var (
	carol = slackserver.User{ID: "U0CAROL01", Name: "carol", Email: "carol@example.com"}
	dave  = slackserver.User{ID: "U0DAVE001", Name: "dave", Email: "dave.ops@example.com"}
	erin  = slackserver.User{ID: "U0ERIN001", Name: "erin", Email: "Erin@Example.org"}
	eve   = slackserver.User{ID: "U0EVE0001", Name: "eve", Email: "eve@example.com"}
	nomai = slackserver.User{ID: "U0NOMAIL1", Name: "nomail"}
)

func newEmailRig(t *testing.T, tweak func(*InteractionOptions)) *emailRig {
	t.Helper()
	r := &emailRig{
		slack: slackserver.New(testToken),
		dec:   &approvers{lists: map[string][]string{"prod": {"alice", "carol", "dave", "erin"}}},
		clock: &clock{t: time.Date(2026, 3, 3, 10, 2, 0, 0, time.UTC)},
	}
	t.Cleanup(r.slack.Close)
	r.slack.AddUser(carol, dave, erin, eve, nomai)
	opts := InteractionOptions{
		SigningSecret: testSecret, Decider: r.dec, Now: r.clock.now,
		Token: testToken, APIURL: r.slack.APIURL(),
		Users: map[string]string{
			"U0ALICE":              "alice",
			"carol@example.com":    "carol",
			"Dave.Ops@Example.COM": "dave",
			"erin@example.org":     "erin",
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	h, err := NewInteractions(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	r.srv = httptest.NewServer(h)
	t.Cleanup(r.srv.Close)
	return r
}

// click sends a signed Approve click from user, checks Slack's 200, and
// returns how long the acknowledgement took.
func (r *emailRig) click(t *testing.T, user string) {
	t.Helper()
	if err := r.send(user); err != nil {
		t.Fatal(err)
	}
}

// send is click for other goroutines than the test's.
func (r *emailRig) send(user string) error {
	payload, err := slackserver.BlockActionsPayload(slackserver.Click{
		UserID: user, UserName: strings.ToLower(user), ActionID: actionApprove,
		Value:   `{"pipeline":"web","environment":"prod","revision":"` + testSHA + `"}`,
		Channel: testChannel, MessageTS: "1700000000.000001", ResponseURL: r.slack.ResponseURL(),
	})
	if err != nil {
		return err
	}
	resp, err := slackserver.SendInteraction(context.Background(), r.srv.Client(), r.srv.URL, testSecret, r.clock.now(), payload)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) != 0 {
		return fmt.Errorf("click from %s answered %d %q, want 200 and no body", user, resp.StatusCode, body)
	}
	return nil
}

// answers are the private answers posted to response_urls so far.
func (r *emailRig) answers(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range r.slack.Responses() {
		if p.ResponseType != "ephemeral" || p.ReplaceOriginal {
			t.Errorf("response %+v is not a private answer", p)
		}
		out = append(out, p.Text)
	}
	return out
}

// lookups lists the users.info calls as "user outcome".
func (r *emailRig) lookups() []string {
	var out []string
	for _, c := range r.slack.Calls("users.info") {
		out = append(out, c.User+" "+c.Outcome)
	}
	return out
}

func (r *emailRig) actors() []string {
	r.dec.mu.Lock()
	defer r.dec.mu.Unlock()
	var out []string
	for _, a := range r.dec.accepted {
		out = append(out, a.Actor)
	}
	return out
}

func TestInteractionsMapByEmail(t *testing.T) {
	const unmappedEve = "Your Slack account (U0EVE0001) is not mapped to a ferry user; ask an admin to add it to chat.users."
	tests := []struct {
		name        string
		user        string
		faults      []slackserver.Fault
		wantActors  []string
		wantAnswer  string
		wantLookups []string
	}{
		{
			name: "a user mapped by e-mail approves as that ferry identity", user: carol.ID,
			wantActors: []string{"carol"}, wantAnswer: "You approved 3f2c1a9 for prod.",
			wantLookups: []string{"U0CAROL01 ok"},
		},
		{
			name: "an e-mail key written in capitals matches Slack's lower-case address", user: dave.ID,
			wantActors: []string{"dave"}, wantAnswer: "You approved 3f2c1a9 for prod.",
			wantLookups: []string{"U0DAVE001 ok"},
		},
		{
			name: "a lower-case e-mail key matches Slack's mixed-case address", user: erin.ID,
			wantActors: []string{"erin"}, wantAnswer: "You approved 3f2c1a9 for prod.",
			wantLookups: []string{"U0ERIN001 ok"},
		},
		{
			name: "a user ID key is used without asking Slack", user: "U0ALICE",
			wantActors: []string{"alice"}, wantAnswer: "You approved 3f2c1a9 for prod.",
		},
		{
			name: "a user whose e-mail is not a key gets the unmapped answer", user: eve.ID,
			wantAnswer: unmappedEve, wantLookups: []string{"U0EVE0001 ok"},
		},
		{
			name: "a missing scope is explained and nothing is decided", user: carol.ID,
			faults:      []slackserver.Fault{{Error: "missing_scope"}},
			wantAnswer:  "Nothing was decided: ferry could not look up the e-mail address of your Slack account (U0CAROL01) to map it to a ferry user (users.info: missing_scope). The Slack app needs the users:read and users:read.email scopes; ask an admin to grant them or to add your user ID to chat.users.",
			wantLookups: []string{"U0CAROL01 error: missing_scope"},
		},
		{
			name: "a Slack server error is explained and nothing is decided", user: carol.ID,
			faults:      []slackserver.Fault{{Status: 500}},
			wantAnswer:  "Nothing was decided: ferry could not look up the e-mail address of your Slack account (U0CAROL01) to map it to a ferry user (users.info: slack server error: 500 Internal Server Error). The Slack app needs the users:read and users:read.email scopes; ask an admin to grant them or to add your user ID to chat.users.",
			wantLookups: []string{"U0CAROL01 HTTP 500"},
		},
		{
			name: "a user Slack does not know is explained", user: "U0GHOST01",
			wantAnswer:  "Nothing was decided: ferry could not look up the e-mail address of your Slack account (U0GHOST01) to map it to a ferry user (users.info: user_not_found). The Slack app needs the users:read and users:read.email scopes; ask an admin to grant them or to add your user ID to chat.users.",
			wantLookups: []string{"U0GHOST01 error: user_not_found"},
		},
		{
			name: "an account without an e-mail (no users:read.email scope) is explained", user: nomai.ID,
			wantAnswer:  "Nothing was decided: Slack did not give ferry the e-mail address of your Slack account (U0NOMAIL1), so it cannot be mapped to a ferry user. The Slack app needs the users:read.email scope; ask an admin to grant it or to add your user ID to chat.users.",
			wantLookups: []string{"U0NOMAIL1 ok"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEmailRig(t, nil)
			r.slack.Inject("users.info", tc.faults...)
			r.click(t, tc.user)
			r.h.Wait()
			if got := r.actors(); !slices.Equal(got, tc.wantActors) {
				t.Errorf("decided as %q, want %q", got, tc.wantActors)
			}
			if got := r.answers(t); !slices.Equal(got, []string{tc.wantAnswer}) {
				t.Errorf("answers = %q, want %q", got, []string{tc.wantAnswer})
			}
			if got := r.lookups(); !slices.Equal(got, tc.wantLookups) {
				t.Errorf("users.info calls = %q, want %q", got, tc.wantLookups)
			}
		})
	}
}

func TestInteractionsMapByEmailHandsTheDeciderTheWholeApproval(t *testing.T) {
	r := newEmailRig(t, nil)
	r.click(t, dave.ID)
	r.h.Wait()
	want := []ferry.Approval{{Actor: "dave", Pipeline: "web", Environment: "prod", Revision: testSHA, Time: r.clock.now(), Via: "slack"}}
	if !slices.Equal(r.dec.accepted, want) {
		t.Errorf("decided %+v, want %+v", r.dec.accepted, want)
	}
}

func TestInteractionsEmailLookupIsCached(t *testing.T) {
	r := newEmailRig(t, nil)
	r.click(t, carol.ID)
	r.h.Wait()
	r.clock.advance(9 * time.Minute)
	r.click(t, carol.ID)
	r.h.Wait()
	if got, want := r.lookups(), []string{"U0CAROL01 ok"}; !slices.Equal(got, want) {
		t.Errorf("after two clicks users.info calls = %q, want %q", got, want)
	}
	if got, want := r.actors(), []string{"carol", "carol"}; !slices.Equal(got, want) {
		t.Errorf("decided as %q, want %q", got, want)
	}

	// Past the 10 minutes the address is asked again (it may have changed).
	r.slack.AddUser(slackserver.User{ID: carol.ID, Name: "carol", Email: "eve@example.com"})
	r.clock.advance(2 * time.Minute)
	r.click(t, carol.ID)
	r.h.Wait()
	if got, want := r.lookups(), []string{"U0CAROL01 ok", "U0CAROL01 ok"}; !slices.Equal(got, want) {
		t.Errorf("after the cache expired users.info calls = %q, want %q", got, want)
	}
	if got, want := r.actors(), []string{"carol", "carol"}; !slices.Equal(got, want) {
		t.Errorf("decided as %q after the address changed, want %q", got, want)
	}
	if got := r.answers(t); len(got) != 3 || got[2] != "Your Slack account (U0CAROL01) is not mapped to a ferry user; ask an admin to add it to chat.users." {
		t.Errorf("answers = %q, want the third to say unmapped", got)
	}
}

func TestInteractionsEmailBurstMakesOneLookup(t *testing.T) {
	r := newEmailRig(t, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.send(dave.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r.h.Wait()
	if got, want := r.lookups(), []string{"U0DAVE001 ok"}; !slices.Equal(got, want) {
		t.Errorf("users.info calls = %q, want %q", got, want)
	}
	if got := r.actors(); len(got) != 8 || slices.ContainsFunc(got, func(a string) bool { return a != "dave" }) {
		t.Errorf("decided as %q, want dave 8 times", got)
	}
}

func TestInteractionsEmailLookupFailureIsNotCached(t *testing.T) {
	r := newEmailRig(t, nil)
	r.slack.Inject("users.info", slackserver.Fault{Error: "ratelimited"})
	r.click(t, carol.ID)
	r.h.Wait()
	r.click(t, carol.ID)
	r.h.Wait()
	if got, want := r.lookups(), []string{"U0CAROL01 error: ratelimited", "U0CAROL01 ok"}; !slices.Equal(got, want) {
		t.Errorf("users.info calls = %q, want %q", got, want)
	}
	if got, want := r.actors(), []string{"carol"}; !slices.Equal(got, want) {
		t.Errorf("decided as %q, want %q", got, want)
	}
	answers := r.answers(t)
	if len(answers) != 2 || !strings.Contains(answers[0], "(users.info: ratelimited)") || answers[1] != "You approved 3f2c1a9 for prod." {
		t.Errorf("answers = %q, want the failure then the approval", answers)
	}
}

// A users.info call that never answers must not hold up Slack's 3-second
// acknowledgement, and the clicker still hears why nothing happened.
func TestInteractionsEmailLookupHangingStillAcknowledges(t *testing.T) {
	// The lookup may take half of DecideTimeout: 3s, during which the
	// click must already have been answered 200.
	r := newEmailRig(t, func(o *InteractionOptions) { o.DecideTimeout = 6 * time.Second })
	r.slack.Inject("users.info", slackserver.Fault{AcceptThenHang: true})
	r.click(t, carol.ID)
	if n := len(r.slack.Responses()); n != 0 {
		t.Errorf("the click was acknowledged after %d answers; want the acknowledgement first, while users.info hangs", n)
	}
	r.h.Wait()
	if got := r.actors(); len(got) != 0 {
		t.Errorf("decided as %q, want nothing", got)
	}
	want := "Nothing was decided: ferry could not look up the e-mail address of your Slack account (U0CAROL01) to map it to a ferry user (users.info: Slack did not answer in time). The Slack app needs the users:read and users:read.email scopes; ask an admin to grant them or to add your user ID to chat.users."
	if got := r.answers(t); !slices.Equal(got, []string{want}) {
		t.Errorf("answers = %q, want %q", got, []string{want})
	}
}

func TestNewInteractionsEmailKeys(t *testing.T) {
	base := InteractionOptions{SigningSecret: testSecret, Decider: &approvers{}}
	noToken := base
	noToken.Users = map[string]string{"carol@example.com": "carol"}
	if _, err := NewInteractions(noToken); errText(err) != "slack interactions: chat.users has e-mail keys but there is no bot token to look them up with users.info (chat.slack.tokenFile)" {
		t.Errorf("e-mail keys without a token: error = %v", err)
	}
	clash := base
	clash.Token = testToken
	clash.Users = map[string]string{"Carol@Example.com": "carol", "carol@example.com": "mallory"}
	if err := errText(func() error { _, err := NewInteractions(clash); return err }()); !strings.HasPrefix(err, "slack interactions: chat.users maps e-mail address carol@example.com to both ") {
		t.Errorf("one address for two identities: error = %q", err)
	}
	idsOnly := base
	idsOnly.Users = map[string]string{"U0ALICE": "alice"}
	h, err := NewInteractions(idsOnly)
	if err != nil {
		t.Fatalf("user ID keys only need no token: %v", err)
	}
	if h.lookup != nil {
		t.Errorf("user ID keys only: lookup %v, want none", h.lookup)
	}
}
