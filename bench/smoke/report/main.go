// Command report turns the timings taken by bench/smoke/run.sh into the
// benchmark table.
//
// It reads hyperfine --export-json files (*.json) and/or tab-separated
// "name<TAB>seconds" lines (*.tsv). Measurement names are "<tool>/<steps>",
// e.g. "venom/50" for the full suite and "venom/1" for the 1-step start-up
// suite.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

type hyperfineExport struct {
	Results []struct {
		Command   string    `json:"command"`
		Times     []float64 `json:"times"`
		ExitCodes []*int    `json:"exit_codes"`
	} `json:"results"`
}

// samples maps a measurement name to its wall times in milliseconds.
type samples map[string][]float64

func (s samples) readJSON(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var h hyperfineExport
	if err := json.Unmarshal(data, &h); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range h.Results {
		for i, t := range r.Times {
			if i < len(r.ExitCodes) && r.ExitCodes[i] != nil && *r.ExitCodes[i] != 0 {
				return fmt.Errorf("%s: %s exited with status %d", path, r.Command, *r.ExitCodes[i])
			}
			s[r.Command] = append(s[r.Command], t*1000)
		}
	}
	return nil
}

func (s samples) readTSV(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, secs, ok := strings.Cut(line, "\t")
		if !ok {
			return fmt.Errorf("%s: bad line %q", path, line)
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(secs), 64)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		s[name] = append(s[name], t*1000)
	}
	return sc.Err()
}

type stats struct {
	n                int
	median, p90, min float64
}

func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{median: math.NaN(), p90: math.NaN(), min: math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	// Nearest-rank 90th percentile.
	rank := int(math.Ceil(0.9*float64(n))) - 1
	return stats{n: n, median: med, p90: s[rank], min: s[0]}
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx", a/b)
}

func main() {
	steps := flag.Int("steps", 50, "steps in the full suite")
	tools := flag.String("tools", "greenlight=greenlight,stepci=Step CI,venom=Venom", "comma-separated key=label list, in table order")
	baseline := flag.String("baseline", "greenlight", "tool the ratios are taken against (falls back to the fastest present)")
	goalList := flag.String("goals", "venom=3,stepci=30", "comma-separated tool=ratio goals against the baseline")
	flag.Parse()

	s := samples{}
	for _, path := range flag.Args() {
		var err error
		if strings.HasSuffix(path, ".json") {
			err = s.readJSON(path)
		} else {
			err = s.readTSV(path)
		}
		if err != nil {
			log.Fatal(err)
		}
	}

	type row struct {
		key, label  string
		full, start stats
		perStep     float64
	}
	var rows []row
	for _, kv := range strings.Split(*tools, ",") {
		key, label, _ := strings.Cut(kv, "=")
		full, ok := s[fmt.Sprintf("%s/%d", key, *steps)]
		if !ok {
			continue
		}
		r := row{key: key, label: label, full: summarize(full), start: summarize(s[key+"/1"])}
		r.perStep = (r.full.median - r.start.median) / float64(*steps-1)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		log.Fatal("report: no timings")
	}

	base := -1
	for i, r := range rows {
		if r.key == *baseline {
			base = i
		}
	}
	if base < 0 {
		base = 0
		for i, r := range rows {
			if r.full.median < rows[base].full.median {
				base = i
			}
		}
	}
	b := rows[base]
	goals := map[string]float64{}
	if b.key == *baseline {
		for _, kv := range strings.Split(*goalList, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				if g, err := strconv.ParseFloat(v, 64); err == nil {
					goals[k] = g
				}
			}
		}
	}

	fmt.Printf("%d-step suite, whole-process wall time, %d runs per tool (interleaved)\n\n", *steps, rows[0].full.n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("tool")
	for _, r := range rows {
		width = max(width, len(r.label))
	}
	fmt.Fprintf(tw, "%-*s\tmedian ms\tp90 ms\tmin ms\tstart-up ms\tms/step\t÷ %s\t\n", width, "tool", b.label)
	for _, r := range rows {
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", width, r.label, ms(r.full.median), ms(r.full.p90), ms(r.full.min),
			ms(r.start.median), fmt.Sprintf("%.2f", r.perStep), ratio(r.full.median, b.full.median))
	}
	tw.Flush()
	fmt.Printf("\nstart-up ms = median of the 1-step suite (login only); ms/step = (median %d-step - median 1-step) / %d\n", *steps, *steps-1)

	for _, r := range rows {
		if r.key == b.key {
			continue
		}
		fmt.Printf("%s/%s = %s (median), %s (min)", r.label, b.label,
			ratio(r.full.median, b.full.median), ratio(r.full.min, b.full.min))
		if g, ok := goals[r.key]; ok {
			verdict := "met"
			if r.full.median/b.full.median < g {
				verdict = "NOT met"
			}
			fmt.Printf("  [goal >= %gx: %s]", g, verdict)
		}
		fmt.Println()
	}
}
