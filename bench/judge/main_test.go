package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func runJSON(t *testing.T, args ...string) report {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append(args, "-json"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return r
}

func TestEndToEnd(t *testing.T) {
	r := runJSON(t, "-runs", "20", "-scenarios", "^(latency/aa-lognormal|errors/0-to-5)$", "-rates", "10", "-seed", "3")
	if len(r.Scenarios) != 2 {
		t.Fatalf("%d scenarios, want 2", len(r.Scenarios))
	}
	for _, sc := range r.Scenarios {
		if len(sc.Results) != 1 || sc.Results[0].Rate != 10 {
			t.Fatalf("%s: results %+v, want one at 10/s", sc.Name, sc.Results)
		}
		js := sc.Results[0].Judges
		if len(js) != len(judgeKinds) {
			t.Fatalf("%s: %d judges, want %d", sc.Name, len(js), len(judgeKinds))
		}
		for _, j := range js {
			if j.Runs != 20 || j.Rollbacks+j.Promotes+j.Inconclusive != 20 {
				t.Errorf("%s %s: %+v does not add up to 20 runs", sc.Name, j.Judge, j)
			}
		}
		gl := js[0]
		switch sc.Name {
		case "latency/aa-lognormal":
			if !sc.Truth.Healthy || gl.Rollbacks != 0 {
				t.Errorf("A/A: greenlight rolled back %d of 20", gl.Rollbacks)
			}
		case "errors/0-to-5":
			if sc.Truth.Healthy || gl.Rollbacks != 20 {
				t.Errorf("+5pp: greenlight rolled back %d of 20, want all", gl.Rollbacks)
			}
		}
	}
	if len(r.Goals) != 2+len(targets) || r.Goals[2].Status != "not measured" {
		t.Errorf("goals %+v", r.Goals)
	}
}

// The same seed gives the same figures whatever the parallelism.
func TestReproducible(t *testing.T) {
	args := []string{"-runs", "12", "-scenarios", "^(latency/scale-1.25|errors/aa-0.1)$", "-rates", "5", "-horizon", "3m"}
	a := runJSON(t, append(args, "-parallel", "1")...)
	b := runJSON(t, append(args, "-parallel", "3")...)
	ja, _ := json.Marshal(a.Scenarios)
	jb, _ := json.Marshal(b.Scenarios)
	if !bytes.Equal(ja, jb) {
		t.Errorf("results differ between -parallel 1 and 3:\n%s\n%s", ja, jb)
	}
}

func TestTableOutput(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-runs", "5", "-scenarios", "^latency/scale-2$", "-rates", "10", "-horizon", "2m"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"latency/scale-2:", "greenlight", "Kayenta, every minute", "oracle", "SUMMARY", "GOALS", "wall time"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rates", "10,x"},
		{"-rates", "0"},
		{"-horizon", "1.5s"},
		{"-alpha", "0.7"},
		{"-scenarios", "("},
		{"-scenarios", "^nothing$"},
		{"-judges", "greenlight,oracle"},
		{"extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if err := run(context.Background(), args, io.Discard, io.Discard); !errors.Is(err, errUsage) {
				t.Errorf("error %v, want a usage error", err)
			}
		})
	}
}
