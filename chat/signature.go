package chat

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// replayWindow is how far a request's signed timestamp may be from now.
const replayWindow = 5 * time.Minute

// Errors of signature verification; the handler answers 401 for both.
var (
	ErrBadSignature   = errors.New("slack request signature does not match")
	ErrStaleTimestamp = errors.New("slack request timestamp is more than 5 minutes from now")
)

// verifySignature checks Slack's X-Slack-Signature over the raw body:
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)), with the
// timestamp within replayWindow of now, compared in constant time.
func verifySignature(secret []byte, now time.Time, h http.Header, body []byte) error {
	tsText := h.Get("X-Slack-Request-Timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: X-Slack-Request-Timestamp %q is not a Unix time", ErrBadSignature, tsText)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > replayWindow || d < -replayWindow {
		return ErrStaleTimestamp
	}
	sig, ok := strings.CutPrefix(h.Get("X-Slack-Signature"), "v0=")
	if !ok {
		return fmt.Errorf("%w: no v0 signature", ErrBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("v0:" + tsText + ":"))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}
