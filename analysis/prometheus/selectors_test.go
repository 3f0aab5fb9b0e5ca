package prometheus

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSelectors(t *testing.T) {
	cases := []struct {
		name, query string
		want        []string
	}{
		{"counter in a sum", `sum(increase(http_requests_total{color="green",code=~"5.."}[300s]))`,
			[]string{`http_requests_total{color="green",code=~"5.."}`}},
		{"by list and a bare metric", `sum by (le) (rate(http_request_duration_seconds_bucket[5m]))`,
			[]string{`http_request_duration_seconds_bucket`}},
		{"two selectors and an or", `sum(rate(errs{job="a"}[1m])) / sum(rate(total{job="a"}[1m])) or on() vector(0)`,
			[]string{`errs{job="a"}`, `total{job="a"}`}},
		{"braces alone, a brace in a value", `count({__name__="up",msg="a}b"})`, []string{`{__name__="up",msg="a}b"}`}},
		{"numbers, offset and keywords", `avg(rate(process_cpu_seconds_total{color="blue"}[1m] offset 5m)) > bool 0.5e3`,
			[]string{`process_cpu_seconds_total{color="blue"}`}},
		{"a repeat once", `up{a="1"} + up{a="1"}`, []string{`up{a="1"}`}},
		{"unterminated", `sum(x{a="`, []string{`x{a="`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, selectors(tc.query))
		})
	}
}
