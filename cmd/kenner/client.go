package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kenner-cdp/kenner"
	"github.com/spf13/cobra"
)

// apiClient calls the admin API of a running server.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// remoteClient returns a client when --url (or KENNER_URL) is set, nil otherwise.
func remoteClient(cmd *cobra.Command) (*apiClient, config, error) {
	cfg, err := loadConfig(cmd)
	if err != nil || cfg.URL == "" {
		return nil, cfg, err
	}
	if _, err := url.Parse(cfg.URL); err != nil {
		return nil, cfg, usageError{fmt.Errorf("--url: %w", err)}
	}
	if cfg.Token == "" {
		return nil, cfg, usageError{fmt.Errorf("--url needs --token (or KENNER_TOKEN)")}
	}
	return &apiClient{base: strings.TrimRight(cfg.URL, "/"), token: cfg.Token, http: &http.Client{Timeout: 30 * time.Second}}, cfg, nil
}

// do sends a JSON request and decodes a JSON answer into out; API errors come back as
// *kenner.Error with the server's code and message.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("kenner server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if err := apiError(resp, method, path); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// apiError returns the error of an answer that is not a success: the server's code and
// message as a *kenner.Error when it sent them.
func apiError(resp *http.Response, method, path string) error {
	if resp.StatusCode < 300 {
		return nil
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error.Code != "" {
		return &kenner.Error{Code: e.Error.Code, Message: e.Error.Message}
	}
	return fmt.Errorf("%s %s: %s", method, path, resp.Status)
}

// download copies the body of a GET to w (a CSV export).
func (c *apiClient) download(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	// An export can take longer than an API call's timeout.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("kenner server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if err := apiError(resp, "GET", path); err != nil {
		return err
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
