package analysis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func drain(t *testing.T, sub *Subscription) (seqs []uint64, skipped uint64, last Event) {
	t.Helper()
	for {
		e, sk, err := sub.Next(context.Background())
		if err != nil {
			require.ErrorIs(t, err, ErrStreamEnded)
			return seqs, skipped, last
		}
		seqs = append(seqs, e.Seq)
		skipped += sk
		last = e
	}
}

func TestStreamOrderAndNumbers(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newStream("a1", func() time.Time { return at }, 16, 16)
	sub := s.subscribe(0)
	for range 5 {
		s.publish(Event{Kind: EventTick})
	}
	s.publish(Event{Kind: EventVerdict})
	seqs, skipped, last := drain(t, sub)
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, seqs)
	assert.Zero(t, skipped)
	assert.Equal(t, EventVerdict, last.Kind)
	assert.Equal(t, "a1", last.Analysis)
	assert.Equal(t, at, last.Time)
	s.publish(Event{Kind: EventTick})
	assert.Equal(t, uint64(6), s.lastSeq(), "nothing follows the verdict")
}

// TestSlowSubscriberNeverBlocks: a subscriber that never reads cannot hold up publishing; when
// it reads at last it skips ahead, is told how many it missed, and still gets the verdict.
func TestSlowSubscriberNeverBlocks(t *testing.T) {
	s := newStream("a1", nil, 64, 32)
	slow := s.subscribe(0)
	for range 10_000 {
		s.publish(Event{Kind: EventTick})
	}
	s.publish(Event{Kind: EventVerdict})
	seqs, skipped, last := drain(t, slow)
	assert.LessOrEqual(t, len(seqs), 33)
	assert.Equal(t, uint64(10_001), uint64(len(seqs))+skipped, "every event is either delivered or counted as skipped")
	assert.Equal(t, EventVerdict, last.Kind, "the verdict is never dropped")
	assert.Equal(t, uint64(10_001), last.Seq)
	for i := 1; i < len(seqs); i++ {
		assert.Less(t, seqs[i-1], seqs[i], "in order")
	}
}

// TestLateSubscriberResumes: Subscribe after a sequence number replays what the history still
// holds after it (SSE's Last-Event-ID), and counts what it no longer holds as skipped.
func TestLateSubscriberResumes(t *testing.T) {
	s := newStream("a1", nil, 10, 100)
	for range 30 {
		s.publish(Event{Kind: EventTick})
	}
	seqsOf := func(sub *Subscription) ([]uint64, uint64) {
		var out []uint64
		var skipped uint64
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		for {
			e, sk, err := sub.Next(ctx)
			if err != nil {
				return out, skipped
			}
			out = append(out, e.Seq)
			skipped += sk
		}
	}
	got, skipped := seqsOf(s.subscribe(25))
	assert.Equal(t, []uint64{26, 27, 28, 29, 30}, got)
	assert.Zero(t, skipped)
	got, skipped = seqsOf(s.subscribe(5))
	assert.Equal(t, []uint64{21, 22, 23, 24, 25, 26, 27, 28, 29, 30}, got)
	assert.Equal(t, uint64(15), skipped, "6…20 are gone from the history")

	s.publish(Event{Kind: EventVerdict})
	seqs, _, last := drain(t, s.subscribe(30))
	assert.Equal(t, []uint64{31}, seqs)
	assert.Equal(t, EventVerdict, last.Kind, "a subscriber after the end still gets the verdict")
	seqs, _, _ = drain(t, s.subscribe(31))
	assert.Empty(t, seqs, "nothing after the verdict")
}

// TestTickHistoryIsBounded: ticks make way for newer ticks, so a long analysis's history keeps its
// rarer events (phases, steps, warnings) instead of filling with ticks; what a late subscriber
// misses is counted as skipped.
func TestTickHistoryIsBounded(t *testing.T) {
	s := newStream("a1", nil, 1024, 4096)
	s.publish(Event{Kind: EventPhase, Message: "smoke"})
	for range 100 {
		s.publish(Event{Kind: EventTick})
	}
	s.publish(Event{Kind: EventWarning, Message: "w"})
	for range 100 {
		s.publish(Event{Kind: EventTick})
	}
	var seqs []uint64
	var kinds []EventKind
	var skipped uint64
	sub := s.subscribe(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	for {
		e, sk, err := sub.Next(ctx)
		if err != nil {
			break
		}
		seqs, kinds, skipped = append(seqs, e.Seq), append(kinds, e.Kind), skipped+sk
	}
	require.Len(t, seqs, 2+DefaultTickHistory)
	assert.Equal(t, []EventKind{EventPhase, EventWarning}, kinds[:2], "the rare events outlive the ticks around them")
	assert.Equal(t, []uint64{1, 102}, seqs[:2])
	assert.Equal(t, uint64(202-DefaultTickHistory+1), seqs[2], "the newest ticks are kept")
	assert.Equal(t, uint64(202), seqs[len(seqs)-1])
	assert.Equal(t, uint64(202-2-DefaultTickHistory), skipped, "every event is delivered or counted as skipped")
}

func TestSubscriptionClose(t *testing.T) {
	s := newStream("a1", nil, 8, 8)
	sub := s.subscribe(0)
	done := make(chan error)
	go func() {
		_, _, err := sub.Next(context.Background())
		done <- err
	}()
	sub.Close()
	assert.ErrorIs(t, <-done, ErrStreamEnded)
}
