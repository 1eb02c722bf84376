package slackserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Click describes a button press the way Slack reports it.
type Click struct {
	UserID   string
	UserName string
	ActionID string
	Value    string
	// Channel and MessageTS locate the message that carried the button.
	Channel     string
	MessageTS   string
	ResponseURL string
}

// BlockActionsPayload is the JSON of a block_actions interaction for c.
func BlockActionsPayload(c Click) ([]byte, error) {
	return json.Marshal(map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": "T0FERRY01", "domain": "ferry-test"},
		"user":         map[string]any{"id": c.UserID, "username": c.UserName, "name": c.UserName, "team_id": "T0FERRY01"},
		"api_app_id":   "A0FERRY01",
		"trigger_id":   "1.2.3",
		"response_url": c.ResponseURL,
		"channel":      map[string]any{"id": c.Channel},
		"container":    map[string]any{"type": "message", "message_ts": c.MessageTS, "channel_id": c.Channel},
		"message":      map[string]any{"type": "message", "ts": c.MessageTS},
		"actions": []map[string]any{{
			"type": "button", "action_id": c.ActionID, "block_id": "ferry-actions",
			"value": c.Value, "action_ts": "1700000000.000001",
		}},
	})
}

// Sign returns Slack's X-Slack-Signature for body sent at ts: "v0=" and the
// hex HMAC-SHA256 of "v0:<unix ts>:<body>" under the signing secret.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts.Unix())
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SendInteraction posts payload to target as Slack posts an interaction: a
// form with a payload field, signed with secret at ts. Callers close the
// response body.
func SendInteraction(ctx context.Context, client *http.Client, target, secret string, ts time.Time, payload []byte) (*http.Response, error) {
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build interaction request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Sign(secret, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send interaction to %s: %w", target, err)
	}
	return resp, nil
}
