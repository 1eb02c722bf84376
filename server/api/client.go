package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry"
)

// maxResponseBody bounds what the client reads of one answer.
const maxResponseBody = 32 << 20

// Client calls ferry's API v1. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewClient returns a client for the server at base (http://host:port, with
// or without a path prefix). token is sent as a bearer token when not empty.
// A nil httpClient means one with a 30s timeout.
func NewClient(base, token string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server address %q: want http://host:port or https://host:port", base)
	}
	if u.User != nil {
		return nil, fmt.Errorf("server address %q: credentials belong in the token, not the URL", u.Redacted())
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, token: token, http: httpClient}, nil
}

// Pipelines lists the configured pipelines.
func (c *Client) Pipelines(ctx context.Context) ([]Pipeline, error) {
	var out []Pipeline
	return out, c.do(ctx, http.MethodGet, PipelinesPath(), nil, &out)
}

// Environments lists the status of every environment of one pipeline, or of
// all pipelines when pipeline is empty.
func (c *Client) Environments(ctx context.Context, pipeline string) ([]ferry.EnvironmentStatus, error) {
	var out []ferry.EnvironmentStatus
	return out, c.do(ctx, http.MethodGet, EnvironmentsPath(pipeline), nil, &out)
}

// Environment returns one environment's status.
func (c *Client) Environment(ctx context.Context, pipeline, env string) (ferry.EnvironmentStatus, error) {
	var out ferry.EnvironmentStatus
	return out, c.do(ctx, http.MethodGet, EnvironmentPath(pipeline, env, ""), nil, &out)
}

// History returns up to limit promotions of one environment, newest first;
// limit 0 means the server's default.
func (c *Client) History(ctx context.Context, pipeline, env string, limit int) ([]ferry.Promotion, error) {
	p := EnvironmentPath(pipeline, env, "promotions")
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var out []ferry.Promotion
	return out, c.do(ctx, http.MethodGet, p, nil, &out)
}

// Audit returns up to limit writes made to env (who did what, when),
// newest first; limit 0 means the server's default.
func (c *Client) Audit(ctx context.Context, pipeline, env string, limit int) ([]ferry.AuditEntry, error) {
	p := EnvironmentPath(pipeline, env, "audit")
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var out []ferry.AuditEntry
	return out, c.do(ctx, http.MethodGet, p, nil, &out)
}

// Approve approves revision (full SHA or prefix) waiting in env.
func (c *Client) Approve(ctx context.Context, pipeline, env string, req DecisionRequest) (WriteResult, error) {
	var out WriteResult
	return out, c.do(ctx, http.MethodPost, EnvironmentPath(pipeline, env, "approve"), req, &out)
}

// Reject rejects revision waiting in env; req.Reason is required.
func (c *Client) Reject(ctx context.Context, pipeline, env string, req DecisionRequest) (WriteResult, error) {
	var out WriteResult
	return out, c.do(ctx, http.MethodPost, EnvironmentPath(pipeline, env, "reject"), req, &out)
}

// Promote asks for revision to be brought to env.
func (c *Client) Promote(ctx context.Context, pipeline, env string, req PromoteRequest) (WriteResult, error) {
	var out WriteResult
	return out, c.do(ctx, http.MethodPost, EnvironmentPath(pipeline, env, "promote"), req, &out)
}

// SetPaused pauses or resumes env.
func (c *Client) SetPaused(ctx context.Context, pipeline, env string, paused bool) (WriteResult, error) {
	action := "resume"
	if paused {
		action = "pause"
	}
	var out WriteResult
	return out, c.do(ctx, http.MethodPost, EnvironmentPath(pipeline, env, action), struct{}{}, &out)
}

// do sends one request and decodes a 2xx answer into out, or returns an
// *Error carrying the server's message.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	target := c.base.String() + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// decodeError reads an error answer. A body that is not ferry's JSON error
// (from a proxy, say) is kept short so a page of HTML does not flood the
// terminal.
func decodeError(status int, data []byte) error {
	e := &Error{Status: status}
	if err := json.Unmarshal(data, e); err == nil && e.Message != "" {
		return e
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Message = fmt.Sprintf("%d %s", status, http.StatusText(status))
	if text != "" {
		e.Message += ": " + text
	}
	return e
}
