package server

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/sqlite"
	"github.com/greenlight/greenlight/verdict"
)

// manualClock is a clock a test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// decidedAt stores an analysis decided at the time given, its delivery delivered, and audited.
func decidedAt(t *testing.T, st store.Store, id string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	_, _, err := st.CreateAnalysis(ctx, store.Analysis{ID: id, Spec: "fast", State: verdict.Running, Phase: verdict.PhaseAnalysis, CreatedAt: at.Add(-time.Minute)})
	require.NoError(t, err)
	_, err = st.AppendAudit(ctx, store.AuditEntry{Analysis: id, Action: "abort", By: "bo", Token: "ci", Why: "wrong image", At: at})
	require.NoError(t, err)
	d := store.Delivery{EventID: "evt-" + id, Target: "webhook/ops", Type: "verdict.decided", Timestamp: at, Payload: json.RawMessage(`{}`)}
	require.NoError(t, st.RecordVerdict(ctx, store.Verdict{Analysis: id, Decision: verdict.Rollback, Data: json.RawMessage(`{"verdict":"rollback"}`), At: at}, nil, []store.Delivery{d}))
	require.NoError(t, st.MarkDelivered(ctx, d.Key(), 1, at))
}

// TestRetentionPrunesDecidedAnalyses: the daemon deletes the analyses decided longer ago than
// its retention as it starts and at each tick after, by its clock, counts them in /metrics,
// and keeps their audit entries.
func TestRetentionPrunesDecidedAnalyses(t *testing.T) {
	const retention = 30 * 24 * time.Hour
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := &manualClock{now: start}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "greenlight.db"))
	require.NoError(t, err)
	decidedAt(t, st, "old", start.Add(-retention-time.Second))
	decidedAt(t, st, "newer", start.Add(-retention+time.Hour))

	ticks := make(chan time.Time)
	pruned := make(chan int, 4) // buffered: a failed test still shuts down
	d := startDaemon(t, daemonConfig{store: st, tokens: testTokens(t), opts: func(o *Options) {
		o.Engine.Now = clock.Now
		o.Retention = retention
		o.pruneTick = ticks
		o.pruned = func(n int, err error) {
			assert.NoError(t, err)
			pruned <- n
		}
	}})
	require.Equal(t, 1, <-pruned, "at start: the one decided more than 30 days ago")
	d.callJSON("GET", "/api/v1/analyses/old", readToken, nil, http.StatusNotFound, nil)
	d.callJSON("GET", "/api/v1/analyses/newer", readToken, nil, http.StatusOK, nil)
	assert.Contains(t, metricLines(d), "greenlight_pruned_analyses_total 1")

	ticks <- clock.Now() // an hour later, nothing more is old enough
	require.Equal(t, 0, <-pruned)
	clock.Add(time.Hour + time.Second)
	ticks <- clock.Now()
	require.Equal(t, 1, <-pruned, "newer's verdict is now older than the retention too")
	d.callJSON("GET", "/api/v1/analyses/newer", readToken, nil, http.StatusNotFound, nil)
	assert.Contains(t, metricLines(d), "greenlight_pruned_analyses_total 2")

	log, err := st.AuditLog(context.Background(), "")
	require.NoError(t, err)
	require.Len(t, log, 2, "the audit log outlives the analyses")
	assert.Equal(t, []string{"old", "newer"}, []string{log[0].Analysis, log[1].Analysis})
}

// TestNoRetentionKeepsEverything: with Retention 0 nothing is ever deleted.
func TestNoRetentionKeepsEverything(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "greenlight.db"))
	require.NoError(t, err)
	decidedAt(t, st, "ancient", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	d := startDaemon(t, daemonConfig{store: st, opts: func(o *Options) {
		o.pruned = func(int, error) { t.Error("no prune runs without a retention") }
	}})
	n, err := d.srv.prune(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
	d.callJSON("GET", "/api/v1/analyses/ancient", "", nil, http.StatusOK, nil)
}

func metricLines(d *daemon) []string {
	d.t.Helper()
	status, body := d.call("GET", "/metrics", readToken, nil)
	require.Equal(d.t, http.StatusOK, status)
	return strings.Split(string(body), "\n")
}
