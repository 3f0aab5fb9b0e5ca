package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/store"
)

// TestRetentionMigrationKeepsTheAuditLog upgrades a database written before retention: its
// audit entries read back, and new ones are numbered after them.
func TestRetentionMigrationKeepsTheAuditLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "greenlight.db")
	ms, err := loadMigrations()
	require.NoError(t, err)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		ms[0].SQL,
		`INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0)`,
		`INSERT INTO analyses VALUES ('a1', 'checkout', NULL, '{}', '{}', 'blue', 'green', 'promote', 'verdict', 1, 2)`,
		`INSERT INTO audit (id, analysis_id, action, decision, by_whom, token, why, at) VALUES (7, 'a1', 'override', 'promote', 'ana', 'oncall', 'flaky', 3)`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, db.Close())

	s, err := Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	log, err := s.AuditLog(ctx, "a1")
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, store.AuditEntry{ID: 7, Analysis: "a1", Action: "override", Decision: "promote", By: "ana", Token: "oncall", Why: "flaky", At: time.Unix(0, 3).UTC()}, log[0])
	e, err := s.AppendAudit(ctx, store.AuditEntry{Analysis: "a1", Action: "abort", At: time.Unix(0, 4)})
	require.NoError(t, err)
	assert.Equal(t, int64(8), e.ID)
	_, err = s.AppendAudit(ctx, store.AuditEntry{Analysis: "nope", Action: "abort", At: time.Unix(0, 4)})
	assert.ErrorIs(t, err, store.ErrNotFound)
}
