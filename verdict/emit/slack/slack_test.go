package slack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/emittest"
	"github.com/greenlight/greenlight/verdict/emit/slack"
)

// fakeSlack is an incoming webhook that refuses what Slack refuses: a body that is not a
// message, a message over Slack's limits, and — stricter than Slack, to catch a missed escape
// — any raw <, > or & in a text.
type fakeSlack struct {
	mu       sync.Mutex
	messages []map[string]any
	problems []string
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg map[string]any
	if r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	problems := checkMessage(msg)
	f.mu.Lock()
	f.messages = append(f.messages, msg)
	f.problems = append(f.problems, problems...)
	f.mu.Unlock()
	if len(problems) > 0 {
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

var rawMarkup = regexp.MustCompile(`[<>]|&(?:[^aglt]|a[^m]|am[^p]|amp[^;]|l[^t]|lt[^;]|g[^t]|gt[^;])`)

func checkText(where string, v any, limit int) []string {
	s, ok := v.(string)
	if !ok || s == "" {
		return []string{where + ": text missing"}
	}
	var out []string
	if n := utf8.RuneCountInString(s); n > limit {
		out = append(out, fmt.Sprintf("%s: %d characters, more than %d", where, n, limit))
	}
	if m := rawMarkup.FindString(s + " "); m != "" {
		out = append(out, fmt.Sprintf("%s: unescaped markup %q", where, m))
	}
	return out
}

func textObject(where string, v any, limit int, types ...string) []string {
	o, ok := v.(map[string]any)
	if !ok {
		return []string{where + ": not a text object"}
	}
	typ, _ := o["type"].(string)
	if !contains(types, typ) {
		return []string{fmt.Sprintf("%s: text type %q", where, typ)}
	}
	return checkText(where, o["text"], limit)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkMessage(msg map[string]any) []string {
	out := checkText("text", msg["text"], 3000)
	blocks, ok := msg["blocks"].([]any)
	if !ok || len(blocks) == 0 {
		return append(out, "no blocks")
	}
	if len(blocks) > 50 {
		out = append(out, fmt.Sprintf("%d blocks, more than 50", len(blocks)))
	}
	for i, b := range blocks {
		blk, _ := b.(map[string]any)
		where := fmt.Sprintf("block %d (%v)", i, blk["type"])
		switch blk["type"] {
		case "header":
			out = append(out, textObject(where, blk["text"], 150, "plain_text")...)
		case "section":
			fields, _ := blk["fields"].([]any)
			if blk["text"] == nil && len(fields) == 0 {
				out = append(out, where+": neither text nor fields")
			}
			if blk["text"] != nil {
				out = append(out, textObject(where, blk["text"], 3000, "mrkdwn", "plain_text")...)
			}
			if len(fields) > 10 {
				out = append(out, fmt.Sprintf("%s: %d fields, more than 10", where, len(fields)))
			}
			for j, f := range fields {
				out = append(out, textObject(fmt.Sprintf("%s field %d", where, j), f, 2000, "mrkdwn", "plain_text")...)
			}
		case "context":
			els, _ := blk["elements"].([]any)
			if len(els) == 0 || len(els) > 10 {
				out = append(out, fmt.Sprintf("%s: %d elements", where, len(els)))
			}
			for j, e := range els {
				out = append(out, textObject(fmt.Sprintf("%s element %d", where, j), e, 3000, "mrkdwn", "plain_text")...)
			}
		case "actions":
			els, _ := blk["elements"].([]any)
			if len(els) == 0 || len(els) > 25 {
				out = append(out, fmt.Sprintf("%s: %d elements", where, len(els)))
			}
			for j, e := range els {
				btn, _ := e.(map[string]any)
				w := fmt.Sprintf("%s button %d", where, j)
				if btn["type"] != "button" {
					out = append(out, w+": not a button")
				}
				out = append(out, textObject(w, btn["text"], 75, "plain_text")...)
				if u, _ := btn["url"].(string); u == "" || len(u) > 3000 {
					out = append(out, w+": bad url")
				}
				if id, _ := btn["action_id"].(string); id == "" || len(id) > 255 {
					out = append(out, w+": bad action_id")
				}
			}
		case "divider":
		default:
			out = append(out, where+": unknown block type")
		}
	}
	return out
}

// texts lists every string of a message as "key=value" lines, in order.
func texts(v any) string {
	var b strings.Builder
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(k, x[k])
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case string:
			fmt.Fprintf(&b, "%s=%s\n", key, x)
		}
	}
	walk("", v)
	return b.String()
}

func newNotifier(t *testing.T, srv *httptest.Server, path string) *slack.Notifier {
	t.Helper()
	n, err := slack.New(slack.Config{Name: "deploys", URL: secret.Secret(srv.URL + path)}, slack.Options{Client: srv.Client()})
	require.NoError(t, err)
	return n
}

func deliver(t *testing.T, n *slack.Notifier, ev emit.Event) (bool, error) {
	t.Helper()
	b, err := emit.Encode(ev, emittest.Links, nil)
	require.NoError(t, err)
	return n.Emit(t.Context(), emit.Delivery{ID: "evt_1", Endpoint: "deploys", Type: ev.Type, Timestamp: ev.Time, Payload: b})
}

// TestEveryEventIsAValidMessage: each event type posts a message Slack accepts, with the
// decision in the header, the reason, the check table and the buttons.
func TestEveryEventIsAValidMessage(t *testing.T) {
	fs := &fakeSlack{}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	n := newNotifier(t, srv, "/services/T0/B0/abc")
	headers := map[emit.EventType]string{
		emit.Started:         ":rocket: Analysis started: checkout",
		emit.SmokeDone:       ":x: Smoke failed: checkout",
		emit.Decided:         ":x: ROLLBACK: checkout",
		emit.WatchRegression: ":rotating_light: Regression after promote: checkout",
		emit.Aborted:         ":octagonal_sign: Aborted: checkout",
		emit.Overridden:      ":white_check_mark: PROMOTE by hand: checkout",
	}
	for i, ev := range emittest.Events() {
		t.Run(string(ev.Type), func(t *testing.T) {
			_, err := deliver(t, n, ev)
			require.NoError(t, err)
			require.Empty(t, fs.problems)
			msg := fs.messages[i]
			blocks := msg["blocks"].([]any)
			header := blocks[0].(map[string]any)["text"].(map[string]any)
			assert.Equal(t, headers[ev.Type], header["text"])
			assert.Equal(t, true, header["emoji"])

			all := texts(msg)
			actions := blocks[len(blocks)-1].(map[string]any)
			assert.Equal(t, "actions", actions["type"])
			assert.Contains(t, all, "url=https://greenlight.example.com/analyses/an_01J9ZQ4T7W")
			assert.Contains(t, all, "url=https://greenlight.example.com/api/v1/analyses/an_01J9ZQ4T7W")
			assert.Contains(t, all, "analysis `an_01J9ZQ4T7W` · podTemplateHash=6d4cf56db6 · rollout=checkout")
			if ev.Verdict != nil && len(ev.Verdict.Checks) > 0 {
				assert.Contains(t, all, ":x: *profile-p95*")
				assert.Contains(t, all, ":white_check_mark: *latency-shift* (advisory)")
				assert.Contains(t, all, "p95 green 41.5ms vs blue 30.3ms: ratio 1.37 [1.32, 1.45] &gt; 1.20 allowed\nsamples: green 400, blue 400")
			}
		})
	}
	decided := texts(fs.messages[2])
	assert.Contains(t, decided, "*rollback* — profile-p95: p95 green 41.5ms")
	assert.Contains(t, decided, ":mag: green: 2 of 400 probes timed out")
	assert.Contains(t, decided, "text=ROLLBACK checkout: profile-p95")
	assert.Contains(t, texts(fs.messages[1]), "• checkout-smoke on green, step login: status == 200: got 500")
	assert.Contains(t, texts(fs.messages[5]), "decided by alice@example.com: latency regression expected: cache warm-up (the analysis said rollback")
}

// TestHostileTextsStayWithinLimits: check names of 10,000 characters, mentions, links and
// entities in every user-controlled text, and 300 checks: the message is still one Slack
// accepts, pings nobody and shows the texts as written.
func TestHostileTextsStayWithinLimits(t *testing.T) {
	fs := &fakeSlack{}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	n := newNotifier(t, srv, "/services/T0/B0/abc")

	ev := emittest.Events()[2]
	hostile := "<!channel> &amp; <https://evil.example|click> <@U024BE7LH> " + strings.Repeat("é&<>", 2500)
	ev.Analysis.Spec = hostile
	ev.Analysis.ID = "<!here>"
	ev.Analysis.Candidate.Name = "<!everyone>"
	ev.Analysis.Labels = map[string]string{"<!subteam^S1>": hostile}
	ev.Message = hostile
	v := ev.Verdict
	v.Reason = hostile
	v.Diagnosis = []string{hostile, hostile}
	base := v.Checks[0]
	v.Checks = nil
	for i := range 300 {
		c := base
		c.Name = fmt.Sprintf("%d %s", i, hostile)
		if i < 10 {
			c.Reason, c.Error = hostile, hostile
		}
		c.Critical = i%2 == 0
		c.State = []compare.State{compare.Pass, compare.Fail, compare.Inconclusive}[i%3]
		v.Checks = append(v.Checks, c)
	}
	v.Override = &verdict.Override{Decision: verdict.Promote, By: hostile, Why: hostile, At: time.Now(), Was: verdict.Rollback, WasReason: hostile}
	ev.Type = emit.Overridden

	_, err := deliver(t, n, ev)
	require.NoError(t, err)
	require.Empty(t, fs.problems, "a message Slack would refuse")
	msg := texts(fs.messages[0])
	for _, ping := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U024BE7LH>", "<!subteam", "<https://evil"} {
		assert.NotContains(t, msg, ping)
	}
	assert.Contains(t, msg, "&lt;!channel&gt; &amp;amp; &lt;https://evil.example|click&gt;", "shown as written")
	blocks := fs.messages[0]["blocks"].([]any)
	assert.Len(t, blocks, 50, "as many blocks as Slack allows")
	last := blocks[len(blocks)-3].(map[string]any)["elements"].([]any)[0].(map[string]any)["text"]
	assert.Regexp(t, `^… and \d+ more checks: see the dashboard or the API\.$`, last)
}

// TestEmitClassifiesSlackAnswers: Slack reports errors by status: a 429 is retried after its
// Retry-After, an archived channel (410) disables the endpoint, a refused message is not
// retried; no error shows the webhook URL's token.
func TestEmitClassifiesSlackAnswers(t *testing.T) {
	const token = "XXXXXXXXXXXXXXXXXXXXXXXX"
	tests := []struct {
		code  int
		body  string
		retry bool
		gone  bool
	}{
		{429, "rate_limited", true, false},
		{500, "internal_error", true, false},
		{400, "invalid_blocks", false, false},
		{403, "action_prohibited", false, false},
		{404, "no_service " + token, false, false},
		{410, "channel_is_archived", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(tt.code)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			n := newNotifier(t, srv, "/services/T0/B0/"+token)
			retry, err := deliver(t, n, emittest.Events()[0])
			require.Error(t, err)
			assert.Equal(t, tt.retry, retry)
			assert.Equal(t, tt.gone, errors.Is(err, emit.ErrGone))
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("slack deploys: status %d", tt.code)), err.Error())
			assert.NotContains(t, err.Error(), token)
			var se *emit.StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "1", se.RetryAfter)
		})
	}
}

func TestEmitRefusesAnUnreadablePayload(t *testing.T) {
	fs := &fakeSlack{}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	n := newNotifier(t, srv, "/hook")
	retry, err := n.Emit(t.Context(), emit.Delivery{ID: "evt_1", Endpoint: "deploys", Payload: []byte(`{"type":"nope"`)})
	assert.False(t, retry, "it would fail the same way every time")
	assert.ErrorContains(t, err, "slack deploys: decode payload")
	assert.Empty(t, fs.messages)
}

func TestNewChecksTheConfig(t *testing.T) {
	_, err := slack.New(slack.Config{URL: "https://hooks.slack.com/services/x"}, slack.Options{})
	assert.ErrorContains(t, err, "needs a name")
	_, err = slack.New(slack.Config{Name: "d", URL: "hooks.slack.com/services/T0/B0/tok-1234567"}, slack.Options{})
	assert.ErrorContains(t, err, `slack "d": url must be an absolute http or https URL`)
	assert.NotContains(t, err.Error(), "tok-1234567")
	_, err = slack.New(slack.Config{Name: "d", URL: "https://hooks.slack.com/x", Timeout: -1}, slack.Options{})
	assert.ErrorContains(t, err, "timeout must not be negative")
}
