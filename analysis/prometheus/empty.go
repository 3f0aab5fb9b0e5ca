package prometheus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/greenlight/greenlight/analysis/source"
)

// lookback is how far back before the window's end a selector is looked up when a query came
// back empty: a series scraped at any usual interval has a sample in it.
const lookback = 5 * time.Minute

// grace is how long into an analysis a selector that matches no series is still no data
// rather than a source error: the candidate's series may only appear with the analysis's own
// traffic and the next scrape after it.
const grace = time.Minute

// maxLookups bounds the selectors looked up for one empty result.
const maxLookups = 8

// maxQueryText bounds how much of a query an error quotes.
const maxQueryText = 300

// empty explains a query that returned no series. It asks the server which of the query's
// selectors match no series around the window: one that matches none (a typo in a metric or a
// label, a label value never set) is a source error that counts toward
// policy.consecutiveErrors once the window is a minute long (grace), since it will not fix
// itself; before, it is no data. When every selector matches series,
// the query just had no samples in its window yet (a window shorter than two scrapes): no data,
// which does not count. A lookup that fails counts too: an empty result is never evidence.
func (s *Source) empty(ctx context.Context, query string, w source.Window) error {
	q := clip(query)
	sels := selectors(query)
	if len(sels) == 0 {
		return &fetchError{reason: fmt.Sprintf("%s returned no series", q), unmatched: true}
	}
	span := max(w.Duration(), lookback)
	var none []string
	for _, sel := range sels[:min(len(sels), maxLookups)] {
		lctx, cancel := context.WithTimeout(ctx, s.timeout)
		series, _, _, err := s.api.Series(lctx, []string{sel}, w.End.Add(-span), w.End, v1.WithLimit(1))
		cancel()
		if err != nil {
			return &fetchError{reason: fmt.Sprintf("%s returned no series (and looking up %s failed: %s)", q, clip(sel), reasonOf(classify(lctx, err, s.timeout))), unmatched: true}
		}
		if len(series) == 0 {
			none = append(none, clip(sel))
		}
	}
	if len(none) == 0 {
		return &fetchError{reason: fmt.Sprintf("%s returned no series, though its series exist: no samples in the window yet?", q), err: source.ErrNoData}
	}
	verb := "matches"
	if len(none) > 1 {
		verb = "match"
	}
	fe := &fetchError{reason: fmt.Sprintf("%s returned no series: %s %s no series in the last %s (a typo in the metric, a label name or a value?)",
		q, strings.Join(none, ", "), verb, span.Round(time.Second)), unmatched: true}
	if w.Duration() < grace {
		fe.err = source.ErrNoData
	}
	return fe
}

// unmatched reports whether err is an empty result that will not fix itself.
func unmatched(err error) bool {
	var fe *fetchError
	return errors.As(err, &fe) && fe.unmatched
}

func clip(s string) string {
	if len(s) <= maxQueryText {
		return s
	}
	cut := maxQueryText
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
