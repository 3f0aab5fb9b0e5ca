package server

import (
	"maps"
	"strings"
	"time"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/specs"
)

// A start's mode and watch are kept with the analysis as labels of greenlight's own: a restart,
// or another replica taking it over, resumes the analysis as it was asked from the stored
// analysis alone. Callers cannot set labels under this prefix.
const (
	ownLabels  = "greenlight/"
	labelMode  = ownLabels + "mode"
	labelWatch = ownLabels + "watch"
	// maxWatch bounds a watch a request may ask for.
	maxWatch = 24 * time.Hour
)

// The modes of a start.
const (
	modeVerify = "verify" // the default: smoke gate, comparison, then policy.watch after a promote
	modeWatch  = "watch"  // the watch alone, for a candidate already promoted and serving users
)

// validateMode checks a start's mode and watch (add is validateStart's) and refuses labels
// under greenlight's own prefix.
func validateMode(req *startRequest, a *specs.Analysis, add func(field string, pos *specs.Position, format string, args ...any)) {
	for _, k := range sortedKeys(req.Labels) {
		if strings.HasPrefix(k, ownLabels) {
			add("labels."+k, nil, "labels under %s are greenlight's own (mode, watch)", ownLabels)
		}
	}
	switch req.Mode {
	case "", modeVerify, modeWatch:
	default:
		add("mode", nil, "%q: want %s or %s", req.Mode, modeVerify, modeWatch)
		return
	}
	if req.Watch != "" {
		d, err := time.ParseDuration(req.Watch)
		switch {
		case err != nil:
			add("watch", nil, "%q is not a duration (30m, 1h)", req.Watch)
		case d <= 0 || d > maxWatch:
			add("watch", nil, "%s: want a duration above zero and at most %s", req.Watch, maxWatch)
		}
		return
	}
	if req.Mode == modeWatch && a != nil && a.Policy.Watch.D() <= 0 {
		add("watch", &a.Pos, "required for mode watch: the spec %s has no policy.watch", a.Metadata.Name)
	}
}

// withMode returns the labels to store: the caller's, and greenlight's own for a mode or a
// watch other than the default.
func withMode(req *startRequest) map[string]string {
	if req.Mode != modeWatch && req.Watch == "" {
		return req.Labels
	}
	out := maps.Clone(req.Labels)
	if out == nil {
		out = map[string]string{}
	}
	if req.Mode == modeWatch {
		out[labelMode] = modeWatch
	}
	if d, err := time.ParseDuration(req.Watch); err == nil {
		out[labelWatch] = d.String()
	}
	return out
}

// applyMode sets a run's options from its stored labels.
func applyMode(o *analysis.Options, labels map[string]string) {
	o.WatchOnly = labels[labelMode] == modeWatch
	if d, err := time.ParseDuration(labels[labelWatch]); err == nil && d > 0 {
		o.Watch = d
	}
}
