package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

var _ store.Commands = (*Store)(nil)

// notifyCommand tells the listeners, once tx commits, that a command was added or done.
func notifyCommand(ctx context.Context, tx pgx.Tx, analysis string, id int64) error {
	data, err := json.Marshal([]change{{Analysis: analysis, Command: id}})
	if err != nil {
		return err
	}
	if len(data) > maxPayload {
		data = []byte("[]") // an absurd analysis id: a resync
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, changesChannel, string(data))
	return err
}

// AddCommand implements store.Commands.
func (s *Store) AddCommand(ctx context.Context, c store.Command) (store.Command, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO commands (analysis_id, kind, decision, by_whom, token, why, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			c.Analysis, c.Kind, string(c.Decision), c.By, c.Token, c.Why, nanos(c.Created)).Scan(&c.ID)
		if sqlState(err) == foreignKeyViolation {
			return fmt.Errorf("%w: analysis %s", store.ErrNotFound, c.Analysis)
		}
		if err != nil {
			return err
		}
		return notifyCommand(ctx, tx, c.Analysis, c.ID)
	})
	if err != nil {
		return c, fmt.Errorf("add command: %w", s.scrub(err))
	}
	return c, nil
}

const commandColumns = `id, analysis_id, kind, decision, by_whom, token, why, created, taken_by, done_at, status, result`

func scanCommand(row pgx.Row) (store.Command, error) {
	var (
		c                store.Command
		decision, result string
		created, doneAt  int64
	)
	if err := row.Scan(&c.ID, &c.Analysis, &c.Kind, &decision, &c.By, &c.Token, &c.Why, &created, &c.TakenBy, &doneAt, &c.Status, &result); err != nil {
		return c, err
	}
	c.Decision, c.Created, c.DoneAt = verdict.Decision(decision), fromNanos(created), fromNanos(doneAt)
	if result != "" {
		c.Result = json.RawMessage(result)
	}
	return c, nil
}

// Command implements store.Commands.
func (s *Store) Command(ctx context.Context, id int64) (store.Command, error) {
	c, err := scanCommand(s.pool.QueryRow(ctx, `SELECT `+commandColumns+` FROM commands WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return c, fmt.Errorf("command %d: %w", id, store.ErrNotFound)
	case err != nil:
		return c, fmt.Errorf("command %d: %w", id, s.scrub(err))
	}
	return c, nil
}

// PendingCommands implements store.Commands.
func (s *Store) PendingCommands(ctx context.Context, analysis string) ([]store.Command, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+commandColumns+` FROM commands WHERE analysis_id = $1 AND taken_by = '' ORDER BY id`, analysis)
	if err != nil {
		return nil, fmt.Errorf("pending commands of %s: %w", analysis, s.scrub(err))
	}
	defer rows.Close()
	var out []store.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("pending commands of %s: %w", analysis, s.scrub(err))
		}
		out = append(out, c)
	}
	return out, s.scrub(rows.Err())
}

// TakeCommand implements store.Commands: one conditional update, so that of two replicas
// taking a command at once one gets it.
func (s *Store) TakeCommand(ctx context.Context, id int64, owner string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE commands SET taken_by = $1 WHERE id = $2 AND taken_by = ''`, owner, id)
	if err != nil {
		return false, fmt.Errorf("take command %d: %w", id, s.scrub(err))
	}
	return tag.RowsAffected() == 1, nil
}

// FinishCommand implements store.Commands.
func (s *Store) FinishCommand(ctx context.Context, id int64, owner string, status int, result json.RawMessage, at time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var analysis string
		err := tx.QueryRow(ctx, `UPDATE commands SET done_at = $1, status = $2, result = $3
			WHERE id = $4 AND taken_by = $5 AND done_at = 0 RETURNING analysis_id`,
			nanos(at), status, string(result), id, owner).Scan(&analysis)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: command %d taken by %s and not done", store.ErrNotFound, id, owner)
		}
		if err != nil {
			return err
		}
		return notifyCommand(ctx, tx, analysis, id)
	})
	if err != nil {
		return fmt.Errorf("finish command %d: %w", id, s.scrub(err))
	}
	return nil
}
