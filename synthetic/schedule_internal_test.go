package synthetic

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryNext(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := every{start: start, period: 100 * time.Millisecond}
	tests := []struct {
		name string
		t    time.Duration // after start
		want time.Duration // after start
	}{
		{"before the start", -time.Second, 0},
		{"at the start", 0, 100 * time.Millisecond},
		{"late tick keeps the grid", 130 * time.Millisecond, 200 * time.Millisecond},
		{"exactly on a tick", 200 * time.Millisecond, 300 * time.Millisecond},
		{"ticks missed are dropped", 1050 * time.Millisecond, 1100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, start.Add(tt.want), e.Next(start.Add(tt.t)))
		})
	}
}

func TestScheduleOf(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 500_000_000, time.Local)
	tests := []struct {
		name      string
		m         Monitor
		wantFirst time.Time
		wantNext  time.Time // after first
	}{
		{"every runs at once", Monitor{Every: time.Second}, now, now.Add(time.Second)},
		{"cron with seconds", Monitor{Cron: "*/10 * * * * *"}, time.Date(2026, 1, 1, 12, 0, 10, 0, time.Local), time.Date(2026, 1, 1, 12, 0, 20, 0, time.Local)},
		{"five-field cron", Monitor{Cron: "*/5 * * * *"}, time.Date(2026, 1, 1, 12, 5, 0, 0, time.Local), time.Date(2026, 1, 1, 12, 10, 0, 0, time.Local)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, first, err := scheduleOf(&tt.m, now)
			require.NoError(t, err)
			assert.True(t, tt.wantFirst.Equal(first), "first %s, want %s", first, tt.wantFirst)
			assert.True(t, tt.wantNext.Equal(s.Next(first)), "next %s, want %s", s.Next(first), tt.wantNext)
		})
	}
}
