package main

import "testing"

// The default Analysis never promotes before its minDuration, and rolls back on either check.
func TestAnalysisJudge(t *testing.T) {
	cfg := &simConfig{alpha: 0.01, minDuration: 120}
	s := find(t, "latency/aa-lognormal")
	j, err := newAnalysis(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tk := &tick{}
	for side := range 2 {
		tk.lat[side] = make([]float64, 100)
		for i := range tk.lat[side] {
			tk.lat[side][i] = 0.1 + 0.001*float64(i)
		}
		tk.total[side] = 100
	}
	for tk.t = 1; tk.t <= 300; tk.t++ {
		v := j.observe(tk)
		if v == promote {
			if tk.t < cfg.minDuration {
				t.Fatalf("promoted at %d s, before minDuration", tk.t)
			}
			break
		}
		if v != undecided {
			t.Fatalf("identical sides: verdict %v at %d s", v, tk.t)
		}
	}
	if tk.t > 300 {
		t.Fatal("identical, error-free sides never promoted")
	}

	j, _ = newAnalysis(s, cfg)
	tk.onlyGreen, tk.errs[green] = 50, 50 // half of green's requests fail: the error check fails
	for tk.t = 1; tk.t <= 60; tk.t++ {
		if v := j.observe(tk); v != undecided {
			if v != rollback {
				t.Fatalf("verdict %v, want rollback", v)
			}
			return
		}
	}
	t.Fatal("50% errors on green never rolled back")
}
