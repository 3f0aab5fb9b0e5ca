package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/greenlight/greenlight/store"
)

// eventPage bounds the events one read of the store returns to a stream.
const eventPage = 200

// writeTimeout bounds one write to an event stream: a client that stops reading is dropped
// rather than holding the handler.
const writeTimeout = 10 * time.Second

// analysisEvents streams one analysis's events; their SSE ids are its sequence numbers.
func (s *Server) analysisEvents(w http.ResponseWriter, r *http.Request) {
	a, ok := s.lookup(w, r)
	if !ok {
		return
	}
	s.stream(w, r, a.ID, func(ctx context.Context, after int64) ([]store.Event, error) {
		return s.o.Store.EventsAfter(ctx, a.ID, uint64(after), eventPage)
	}, func(e store.Event) int64 { return int64(e.Seq) })
}

// allEvents streams every analysis's events; their SSE ids are the store's global order.
func (s *Server) allEvents(w http.ResponseWriter, r *http.Request) {
	s.stream(w, r, "", func(ctx context.Context, after int64) ([]store.Event, error) {
		return s.o.Store.AllEventsAfter(ctx, after, eventPage)
	}, func(e store.Event) int64 { return e.ID })
}

// lastEventID is where a stream resumes: the Last-Event-ID header a reconnecting EventSource
// sends, or ?lastEventId= for clients that cannot set headers.
func lastEventID(r *http.Request) (int64, *apiError) {
	raw := r.Header.Get("Last-Event-ID")
	field := "Last-Event-ID"
	if raw == "" {
		raw, field = r.URL.Query().Get("lastEventId"), "lastEventId"
	}
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0, &apiError{Status: http.StatusBadRequest, Error: "invalid event id", Fields: []fieldError{{Field: field, Message: "want a non-negative integer: the id of the last event received"}}}
	}
	return n, nil
}

// stream sends server-sent events read from the store after the client's last one, then each
// new one once it is committed, with a comment every Heartbeat while idle, until the client
// goes or the server stops. Nothing is buffered per client: a slow client reads on from where
// it is, and one that stops reading is dropped after writeTimeout. analysis names the analysis
// whose commits wake it ("" for every analysis's).
func (s *Server) stream(w http.ResponseWriter, r *http.Request, analysis string, read func(context.Context, int64) ([]store.Event, error), idOf func(store.Event) int64) {
	last, e := lastEventID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	heartbeat := time.NewTicker(s.o.Heartbeat)
	defer heartbeat.Stop()
	var buf bytes.Buffer
	buf.WriteString("retry: 2000\n\n")
	for {
		woken := s.hub.wait(analysis)
		evs, err := read(ctx, last)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("event stream: cannot read events", "error", err)
			}
			return
		}
		for _, ev := range evs {
			id := idOf(ev)
			fmt.Fprintf(&buf, "id: %d\nevent: %s\ndata: %s\n\n", id, ev.Kind, ev.Data)
			last = id
		}
		if buf.Len() > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			buf.Reset()
		}
		if len(evs) == eventPage {
			continue // more to catch up on
		}
		select {
		case <-woken:
		case <-heartbeat.C:
			buf.WriteString(": heartbeat\n\n")
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
	}
}
