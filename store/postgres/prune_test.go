package postgres

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/postgres/pgtest"
)

// TestRetentionMigrationKeepsTheAuditLog upgrades a database written before retention: its
// audit entries read back, and new ones are numbered after them.
func TestRetentionMigrationKeepsTheAuditLog(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	ms, err := loadMigrations()
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`}
	for _, m := range ms {
		if m.Name == "0004_retention.sql" {
			break
		}
		stmts = append(stmts, m.SQL, `INSERT INTO schema_migrations VALUES (`+strconv.Itoa(m.Version)+`, '`+m.Name+`', 0)`)
	}
	stmts = append(stmts,
		`INSERT INTO analyses VALUES ('a1', 'checkout', NULL, '{}', '{}', 'blue', 'green', 'promote', 'verdict', 1, 2)`,
		`INSERT INTO audit (analysis_id, action, decision, by_whom, token, why, at) VALUES ('a1', 'override', 'promote', 'ana', 'oncall', 'flaky', 3)`)
	for _, stmt := range stmts {
		_, err := conn.Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, conn.Close(ctx))

	s := open(t, dsn)
	defer s.Close()
	log, err := s.AuditLog(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, store.AuditEntry{ID: log[0].ID, Analysis: "a1", Action: "override", Decision: "promote", By: "ana", Token: "oncall", Why: "flaky", At: time.Unix(0, 3).UTC()}, log[0])
	e, err := s.AppendAudit(ctx, store.AuditEntry{Analysis: "a1", Action: "abort", At: time.Unix(0, 4)})
	require.NoError(t, err)
	assert.Greater(t, e.ID, log[0].ID)
	_, err = s.AppendAudit(ctx, store.AuditEntry{Analysis: "nope", Action: "abort", At: time.Unix(0, 4)})
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestPruneKeepsAnAnalysisRedeliveredMeanwhile: a redelivery not yet committed when a prune
// chooses its analysis makes the prune wait, and then keep the analysis: a pending delivery is
// never deleted.
func TestPruneKeepsAnAnalysisRedeliveredMeanwhile(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.DSN(t))
	defer s.Close()
	at := time.Unix(100, 0)
	_, _, err := s.CreateAnalysis(ctx, store.Analysis{ID: "a1", Spec: "checkout", CreatedAt: at})
	require.NoError(t, err)
	d := store.Delivery{EventID: "evt-1", Target: "webhook/ops", Type: "verdict.decided", Timestamp: at, Payload: []byte(`{}`)}
	require.NoError(t, s.RecordVerdict(ctx, store.Verdict{Analysis: "a1", Decision: "promote", Data: []byte(`{}`), At: at}, nil, []store.Delivery{d}))
	require.NoError(t, s.MarkDelivered(ctx, d.Key(), 1, at))

	// A redelivery by hand, under way.
	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `UPDATE outbox SET state = 'pending' WHERE event_id = 'evt-1'`)
	require.NoError(t, err)

	type result struct {
		ids []string
		err error
	}
	pruned := make(chan result, 1)
	go func() {
		ids, err := s.PruneAnalyses(ctx, at.Add(time.Hour), 10)
		pruned <- result{ids, err}
	}()
	// The prune either waits for the redelivery's row lock (as it must) or has finished.
	var (
		done bool
		got  result
	)
	for waiting := 0; waiting == 0 && !done; {
		select {
		case got = <-pruned:
			done = true
		default:
			require.NoError(t, s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted`).Scan(&waiting))
		}
	}
	assert.False(t, done, "the prune waited for the redelivery")
	require.NoError(t, tx.Commit(ctx))
	if !done {
		got = <-pruned
	}
	require.NoError(t, got.err)
	assert.Empty(t, got.ids, "its delivery is pending again: the analysis stays")
	ds, err := s.Deliveries(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, store.DeliveryPending, ds[0].State)
}
