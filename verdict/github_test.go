package verdict

import (
	"bytes"
	"strings"
	"testing"

	"github.com/greenlight/greenlight/compare"
)

func TestGitHubSmokeReport(t *testing.T) {
	var buf bytes.Buffer
	noErr(t, WriteGitHub(&buf, fixture()))
	equal(t, buf.String(), strings.Join([]string{
		"::error file=smoke/checkout.yaml,title=greenlight%3A checkout-smoke › profile on green::failed (500); status (500) == 200; json.name != ''",
		"::error file=smoke/inventory.yaml,title=greenlight%3A inventory-smoke › stock on target::error; GET https://inventory.example.test/api/stock?sku=42: context deadline exceeded",
		"::error file=smoke/inventory.yaml,title=greenlight%3A inventory-smoke on target::suite timeout 10s exceeded",
		""}, "\n"))

	buf.Reset()
	noErr(t, WriteGitHub(&buf, passing()))
	equal(t, buf.String(), "", "nothing to annotate when every step passed")
}

func TestGitHubVerdict(t *testing.T) {
	v := fixtureVerdict(Rollback)
	failing := check("latency, p99", true, compare.Error)
	failing.Error = "prometheus: 503\nService Unavailable"
	v.Checks = append(v.Checks, failing, check("pass", true, compare.Pass))
	smoke := fixture()
	smoke.Suites = smoke.Suites[1:2]
	v.Smoke = smoke
	var buf bytes.Buffer
	noErr(t, WriteVerdictGitHub(&buf, v))
	equal(t, buf.String(), strings.Join([]string{
		"::error title=greenlight%3A rollback checkout::p95: ratio | 1.3",
		"::error file=smoke/checkout.yaml,title=greenlight%3A checkout-smoke › profile on green::failed (500); status (500) == 200; json.name != ''",
		"::error title=greenlight%3A check p95 fail::p95 reason",
		"::warning title=greenlight%3A advisory check health fail::health reason",
		"::error title=greenlight%3A check latency%2C p99 error::prometheus: 503%0AService Unavailable",
		""}, "\n"))

	for d, want := range map[Decision]string{Promote: "::notice ", Inconclusive: "::warning ", Interrupted: "::warning "} {
		buf.Reset()
		v := fixtureVerdict(d)
		v.Checks = nil
		noErr(t, WriteVerdictGitHub(&buf, v))
		equal(t, strings.HasPrefix(buf.String(), want+"title=greenlight%3A "+string(d)+" checkout::"), true, buf.String())
	}
}

// A message cannot end its command or start another: %, CR and LF are escaped (and, in a
// property, : and , too), as GitHub's toolkit escapes them.
func TestGitHubEscaping(t *testing.T) {
	var buf bytes.Buffer
	ghCommand(&buf, "error", "a,b:c.yaml", "50% of\r\n::error::x", "100%\n::warning::injected")
	equal(t, buf.String(), "::error file=a%2Cb%3Ac.yaml,title=50%25 of%0D%0A%3A%3Aerror%3A%3Ax::100%25%0A::warning::injected\n")
	equal(t, strings.Count(buf.String(), "\n"), 1, "one line")
}
