package postgres

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/greenlight/greenlight/store"
)

// changesChannel is the channel the event and verdict transactions notify on commit.
const changesChannel = "greenlight_events"

// maxPayload bounds one notification's payload: PostgreSQL refuses 8000 bytes and more.
const maxPayload = 7000

// listenerName is the application_name of the connection that listens (one per Store).
const listenerName = "greenlight-listen"

// subscriberBuffer is how many changes a subscriber may fall behind before it is told to
// resync instead.
const subscriberBuffer = 256

// Bounds of the listener's reconnection backoff.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// change is one change as a notification carries it.
type change struct {
	Analysis    string `json:"a"`
	LastEventID int64  `json:"e,omitempty"`
	Decided     bool   `json:"d,omitempty"`
	Command     int64  `json:"c,omitempty"`
}

// notifyChanges tells every listener, once tx commits, of the events committed in it (and of
// a verdict when decided names an analysis): one entry per analysis, in notifications of at
// most maxPayload bytes. An entry too long for one (an absurd analysis id) notifies a resync.
func notifyChanges(ctx context.Context, tx pgx.Tx, evs []store.Event, decided string) error {
	byAnalysis := map[string]*change{}
	var order []string
	entry := func(id string) *change {
		c, ok := byAnalysis[id]
		if !ok {
			c = &change{Analysis: id}
			byAnalysis[id] = c
			order = append(order, id)
		}
		return c
	}
	for _, e := range evs {
		c := entry(e.Analysis)
		c.LastEventID = max(c.LastEventID, e.ID)
	}
	if decided != "" {
		entry(decided).Decided = true
	}
	var payloads []string
	var cur []byte
	for _, id := range order {
		data, err := json.Marshal(byAnalysis[id])
		if err != nil {
			return err
		}
		if len(data)+2 > maxPayload {
			payloads = append(payloads, "[]") // an empty list: resync
			continue
		}
		if len(cur)+len(data)+2 > maxPayload {
			payloads = append(payloads, string(append(cur, ']')))
			cur = nil
		}
		if cur == nil {
			cur = append(cur, '[')
		} else {
			cur = append(cur, ',')
		}
		cur = append(cur, data...)
	}
	if cur != nil {
		payloads = append(payloads, string(append(cur, ']')))
	}
	for _, p := range payloads {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, changesChannel, p); err != nil {
			return err
		}
	}
	return nil
}

// changes fans the listener's notifications out to the subscribers.
type changes struct {
	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	started bool
	closed  bool
	stop    context.CancelFunc // ends the listener
	done    chan struct{}      // closed when it has ended
}

type subscriber struct {
	ch chan store.Change
	// missed: a change did not fit in ch; a resync is due before any other.
	missed bool
}

// Subscribe implements store.Changes. The first subscriber starts the Store's listener: one
// connection, outside the pool, that listens and reconnects when it is lost. Each (re)connection
// sends a Resync, since notifications made while none listens are lost.
func (s *Store) Subscribe(ctx context.Context) (<-chan store.Change, func()) {
	c := &s.changes
	sub := &subscriber{ch: make(chan store.Change, subscriberBuffer)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		close(sub.ch)
		return sub.ch, func() {}
	}
	if c.subs == nil {
		c.subs = map[*subscriber]struct{}{}
	}
	c.subs[sub] = struct{}{}
	if !c.started {
		c.started = true
		lctx, stop := context.WithCancel(context.Background())
		c.stop, c.done = stop, make(chan struct{})
		go s.listen(lctx, c.done)
	}
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if _, ok := c.subs[sub]; ok {
				delete(c.subs, sub)
				close(sub.ch)
			}
		})
	}
	context.AfterFunc(ctx, cancel)
	return sub.ch, cancel
}

// send gives a change to every subscriber; one whose buffer is full gets a resync later instead.
func (c *changes) send(ch store.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for sub := range c.subs {
		if sub.missed {
			select {
			case sub.ch <- store.Change{Resync: true}:
				sub.missed = false
			default:
			}
			continue // the resync covers this change too
		}
		select {
		case sub.ch <- ch:
		default:
			sub.missed = true
		}
	}
}

// close ends the listener and every subscription.
func (c *changes) close() {
	c.mu.Lock()
	c.closed = true
	stop, done := c.stop, c.done
	c.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for sub := range c.subs {
		close(sub.ch)
	}
	clear(c.subs)
}

// listen listens on a connection of its own until ctx ends, reconnecting after a backoff when
// the connection is lost.
func (s *Store) listen(ctx context.Context, done chan struct{}) {
	defer close(done)
	backoff := minBackoff
	for {
		listened := s.listenOnce(ctx)
		if listened {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listenOnce connects, listens and passes the notifications on until the connection fails or
// ctx ends; listened says whether it got as far as listening.
func (s *Store) listenOnce(ctx context.Context) (listened bool) {
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = listenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+changesChannel); err != nil {
		return false
	}
	s.changes.send(store.Change{Resync: true})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true
		}
		var cs []change
		if err := json.Unmarshal([]byte(n.Payload), &cs); err != nil || len(cs) == 0 {
			s.changes.send(store.Change{Resync: true})
			continue
		}
		for _, c := range cs {
			s.changes.send(store.Change{Analysis: c.Analysis, LastEventID: c.LastEventID, Decided: c.Decided, Command: c.Command})
		}
	}
}
