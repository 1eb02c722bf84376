package chat

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ferry-gitops/ferry"
	"github.com/slack-go/slack"
)

// Action IDs of the parent message's buttons, which Interactions recognises.
const (
	actionApprove = "ferry_approve"
	actionReject  = "ferry_reject"
)

// buttonValue identifies what a button decides: one revision in one
// environment of one pipeline.
type buttonValue struct {
	Pipeline    string `json:"pipeline"`
	Environment string `json:"environment"`
	Revision    string `json:"revision"`
}

// parentMessage renders a revision's parent message: commit line, changed
// files, superseded mark, then one section per environment with its
// decisions and, while approval waits, Approve and Reject buttons. It
// returns the blocks and the notification text.
func parentMessage(st MessageState) ([]slack.Block, string) {
	short := ferry.Revision{SHA: st.Key.Revision}.Short()
	head := fmt.Sprintf("`%s` *%s*", short, escape(orDefault(st.Subject, "(no subject)")))
	var by []string
	if st.Author != "" {
		by = append(by, escape(st.Author))
	}
	by = append(by, "pipeline *"+escape(st.Key.Pipeline)+"*")
	blocks := []slack.Block{section(head + "\n" + strings.Join(by, " · "))}

	if len(st.Changed) > 0 {
		files := make([]string, len(st.Changed))
		for i, f := range st.Changed {
			files[i] = "`" + escape(f) + "`"
		}
		changed := "changed: " + strings.Join(files, ", ")
		if st.ChangedMore > 0 {
			changed += fmt.Sprintf(" and %d more", st.ChangedMore)
		}
		blocks = append(blocks, contextLine(changed))
	}
	if st.Superseded != "" {
		blocks = append(blocks, contextLine("⏭ "+escape(st.Superseded)))
	}

	summary := []string{st.Key.Pipeline, short}
	for _, e := range st.Envs {
		text := "*" + escape(e.Name) + "* " + escape(e.Status)
		for _, d := range e.Decisions {
			text += "\n_" + escape(d) + "_"
		}
		blocks = append(blocks, section(text))
		if e.AwaitingApproval && st.Superseded == "" {
			blocks = append(blocks, approvalButtons(st.Key, e.Name))
		}
		summary = append(summary, e.Name+" "+ellipsize(e.Status, maxBriefStatus))
	}
	return capBlocks(blocks), fallback(strings.Join(summary, " · "))
}

// maxBriefStatus bounds one environment's status in the notification text,
// so a long failure reason cannot push the environments after it out of the
// preview; the message's blocks carry the whole status.
const maxBriefStatus = 60

// approvalButtons are the Approve and Reject buttons for one environment.
func approvalButtons(key MessageKey, env string) *slack.ActionBlock {
	v, _ := json.Marshal(buttonValue{Pipeline: key.Pipeline, Environment: env, Revision: key.Revision})
	approve := slack.NewButtonBlockElement(actionApprove, string(v), slack.NewTextBlockObject(slack.PlainTextType, cutRunes("Approve "+env, 75), false, false))
	approve.Style = slack.StylePrimary
	reject := slack.NewButtonBlockElement(actionReject, string(v), slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false))
	reject.Style = slack.StyleDanger
	return slack.NewActionBlock("ferry-approval-"+cutRunes(env, 200), approve, reject)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sameBlocks reports whether two renderings would look the same, so an event
// that changes nothing visible costs no chat.update.
func sameBlocks(a, b []slack.Block) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
