package slackserver

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Limits Slack enforces on messages, per its Block Kit reference.
const (
	maxBlocks        = 50
	maxSectionText   = 3000
	maxSectionFields = 10
	maxFieldText     = 2000
	maxHeaderText    = 150
	maxContextElems  = 10
	maxActionElems   = 25
	maxButtonText    = 75
	maxButtonValue   = 2000
	maxIDLen         = 255
	maxTextLen       = 40000
)

// block is the part of a Block Kit block the limits concern.
type block struct {
	Type     string    `json:"type"`
	BlockID  string    `json:"block_id"`
	Text     *textObj  `json:"text"`
	Fields   []textObj `json:"fields"`
	Elements []element `json:"elements"`
}

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// element is a context or actions element; Text is a string in a context's
// text element and a text object in a button.
type element struct {
	Type     string          `json:"type"`
	Text     json.RawMessage `json:"text"`
	ActionID string          `json:"action_id"`
	Value    string          `json:"value"`
}

// validateBlocks refuses what Slack answers with invalid_blocks.
func validateBlocks(raw []byte) error {
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return fmt.Errorf("blocks are not a JSON array of blocks: %w", err)
	}
	if len(blocks) > maxBlocks {
		return fmt.Errorf("%d blocks, at most %d", len(blocks), maxBlocks)
	}
	for i, b := range blocks {
		if err := validateBlock(b); err != nil {
			return fmt.Errorf("block %d (%s): %w", i, b.Type, err)
		}
	}
	return nil
}

func validateBlock(b block) error {
	if utf8.RuneCountInString(b.BlockID) > maxIDLen {
		return fmt.Errorf("block_id longer than %d", maxIDLen)
	}
	switch b.Type {
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			return fmt.Errorf("section needs text or fields")
		}
		if b.Text != nil {
			if err := checkText(*b.Text, maxSectionText); err != nil {
				return err
			}
		}
		if len(b.Fields) > maxSectionFields {
			return fmt.Errorf("%d fields, at most %d", len(b.Fields), maxSectionFields)
		}
		for _, f := range b.Fields {
			if err := checkText(f, maxFieldText); err != nil {
				return err
			}
		}
	case "header":
		if b.Text == nil || b.Text.Type != "plain_text" {
			return fmt.Errorf("header needs plain_text")
		}
		return checkText(*b.Text, maxHeaderText)
	case "context":
		if len(b.Elements) == 0 || len(b.Elements) > maxContextElems {
			return fmt.Errorf("context needs 1 to %d elements, has %d", maxContextElems, len(b.Elements))
		}
		for _, e := range b.Elements {
			if e.Type != "mrkdwn" && e.Type != "plain_text" {
				continue
			}
			var t textObj
			t.Type = e.Type
			if err := json.Unmarshal(e.Text, &t.Text); err != nil {
				return fmt.Errorf("context text: %w", err)
			}
			if err := checkText(t, maxSectionText); err != nil {
				return err
			}
		}
	case "actions":
		if len(b.Elements) == 0 || len(b.Elements) > maxActionElems {
			return fmt.Errorf("actions needs 1 to %d elements, has %d", maxActionElems, len(b.Elements))
		}
		for _, e := range b.Elements {
			if err := checkButton(e); err != nil {
				return err
			}
		}
	case "divider":
	default:
		return fmt.Errorf("block type %q is not one the test server knows", b.Type)
	}
	return nil
}

func checkText(t textObj, max int) error {
	if t.Type != "mrkdwn" && t.Type != "plain_text" {
		return fmt.Errorf("text type %q", t.Type)
	}
	if t.Text == "" {
		return fmt.Errorf("empty text")
	}
	if n := utf8.RuneCountInString(t.Text); n > max {
		return fmt.Errorf("text of %d characters, at most %d", n, max)
	}
	return nil
}

func checkButton(e element) error {
	if e.Type != "button" {
		return nil
	}
	var t textObj
	if err := json.Unmarshal(e.Text, &t); err != nil || t.Type != "plain_text" {
		return fmt.Errorf("button needs a plain_text text object")
	}
	if err := checkText(t, maxButtonText); err != nil {
		return err
	}
	if utf8.RuneCountInString(e.Value) > maxButtonValue {
		return fmt.Errorf("button value longer than %d", maxButtonValue)
	}
	if utf8.RuneCountInString(e.ActionID) > maxIDLen {
		return fmt.Errorf("action_id longer than %d", maxIDLen)
	}
	return nil
}
