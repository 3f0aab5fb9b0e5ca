package target

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Client drives a Server's control API at URL (the server's base URL).
type Client struct {
	HTTP *http.Client
	URL  string
}

// Record clears the samples and starts recording (on) or stops recording.
func (c *Client) Record(ctx context.Context, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/-/record?on="+v, nil)
	if err != nil {
		return fmt.Errorf("target record: %w", err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("target record: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("target record: status %d", resp.StatusCode)
	}
	return nil
}

// Stats returns the server's counters, with the recorded samples when samples is set.
func (c *Client) Stats(ctx context.Context, samples bool) (*Stats, error) {
	u := c.URL + "/-/stats"
	if !samples {
		u += "?samples=0"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("target stats: %w", err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("target stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("target stats: status %d", resp.StatusCode)
	}
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("target stats: decode: %w", err)
	}
	return &st, nil
}
