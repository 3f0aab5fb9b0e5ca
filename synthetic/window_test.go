package synthetic_test

import (
	"sync"
	"testing"

	"github.com/greenlight/greenlight/synthetic"
	"github.com/stretchr/testify/assert"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		name string
		size int
		add  int
		want []int64 // the Seqs held, oldest first
	}{
		{"empty", 3, 0, []int64{}},
		{"not full", 3, 2, []int64{1, 2}},
		{"exactly full", 3, 3, []int64{1, 2, 3}},
		{"wrapped", 3, 7, []int64{5, 6, 7}},
		{"size one", 1, 4, []int64{4}},
		{"size zero holds one", 0, 2, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := synthetic.NewWindow(tt.size)
			for i := 1; i <= tt.add; i++ {
				w.Add(synthetic.Probe{Seq: int64(i), Steps: []synthetic.StepProbe{{Name: "s"}}})
			}
			got := []int64{}
			for _, p := range w.Snapshot() {
				got = append(got, p.Seq)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(tt.want), w.Len())
		})
	}
}

func TestWindowSnapshotIsACopy(t *testing.T) {
	w := synthetic.NewWindow(2)
	w.Add(synthetic.Probe{Seq: 1, Steps: []synthetic.StepProbe{{Name: "a"}}})
	snap := w.Snapshot()
	snap[0].Seq = 99
	snap[0].Steps[0].Name = "changed"
	again := w.Snapshot()
	assert.Equal(t, int64(1), again[0].Seq)
	assert.Equal(t, "a", again[0].Steps[0].Name)
}

func TestWindowConcurrentUse(t *testing.T) {
	w := synthetic.NewWindow(16)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				w.Add(synthetic.Probe{Seq: int64(g*1000 + i)})
				_ = w.Snapshot()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 16, w.Len())
}
