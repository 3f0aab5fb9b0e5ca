package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/judged"
)

// browserTimeout bounds the whole browser test; every wait inside waits on the page, never on
// the clock, so a slow machine only takes longer.
const browserTimeout = 4 * time.Minute

// chromium finds the browser: on PATH as chromium or chromium-browser (Debian's package). The
// full suite needs it (CI installs it); go test -short skips the browser tests.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser tests run in the full suite (without -short)")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: the dashboard's browser tests need it (apt-get install chromium)")
	return ""
}

// artifacts is where screenshots go: $GREENLIGHT_ARTIFACTS, or the test's temporary folder.
func artifacts(t *testing.T) string {
	if dir := os.Getenv("GREENLIGHT_ARTIFACTS"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

// cutter drops the event streams it passes on demand, mid-stream, as a broken connection
// would, and records the Last-Event-ID each stream request came with.
type cutter struct {
	mu      sync.Mutex
	next    int
	cancels map[int]context.CancelFunc
	asked   []string // "path Last-Event-ID" of each stream request
}

func (c *cutter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/events") {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		c.mu.Lock()
		if c.cancels == nil {
			c.cancels = map[int]context.CancelFunc{}
		}
		id := c.next
		c.next++
		c.cancels[id] = cancel
		c.asked = append(c.asked, r.URL.Path+" "+r.Header.Get("Last-Event-ID"))
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			delete(c.cancels, id)
			c.mu.Unlock()
			cancel()
		}()
		h.ServeHTTP(w, r.WithContext(ctx))
		if ctx.Err() != nil && r.Context().Err() == nil {
			panic(http.ErrAbortHandler) // cut: the connection drops without the stream's end
		}
	})
}

// cut drops every open stream and says how many it dropped.
func (c *cutter) cut() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, cancel := range c.cancels {
		cancel()
		n++
	}
	return n
}

// requests returns the Last-Event-ID of each stream request to path, in order.
func (c *cutter) requests(path string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.asked {
		p, id, _ := strings.Cut(a, " ")
		if p == path {
			out = append(out, id)
		}
	}
	return out
}

// page drives one browser tab.
type page struct {
	t       *testing.T
	ctx     context.Context
	console *syncBuffer // what the page logged and threw, shown when a wait fails
}

// listen keeps what the page logs and throws.
func (p *page) listen(ctx context.Context) {
	p.console = &syncBuffer{}
	logs := chromedp.Events(ctx, cdpruntime.ConsoleAPICalled)
	thrown := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			fmt.Fprintf(p.console, "console.%s: %s\n", ev.Type, strings.Join(args, " "))
		}
	}()
	go func() {
		for ev, err := range thrown {
			if err != nil {
				return
			}
			fmt.Fprintf(p.console, "%s\n", (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		}
	}()
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, actions...))
}

// until waits until the JavaScript expression is true.
func (p *page) until(what, expr string) {
	p.t.Helper()
	// No timeout of its own: the test's deadline bounds every wait.
	_, err := chromedp.Run(p.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		main, _ := chromedp.Run(context.WithoutCancel(p.ctx), chromedp.Evaluate[string](`document.body.innerText`))
		p.t.Fatalf("waiting for %s (%s): %v\nthe page says:\n%s\nits console:\n%s", what, expr, err, main, p.console)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	require.NoError(p.t, err, "%s", expr)
	return v
}

// text is the text of the element sel selects, read in one step in the page: the dashboard
// redraws its elements as events come, and a node looked up first and read after may be gone.
func (p *page) text(sel string) string {
	p.t.Helper()
	p.until(sel, fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
	return eval[string](p, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel))
}

// click clicks the element sel selects once, as soon as there is one, in one step in the page
// (see text).
func (p *page) click(sel string) {
	p.t.Helper()
	p.until("a click on "+sel, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (e === null) return false; e.click(); return true; })()`, sel))
}

func (p *page) screenshot(dir, name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	require.NoError(p.t, err)
	path := filepath.Join(dir, name)
	require.NoError(p.t, os.WriteFile(path, png, 0o644))
	p.t.Logf("screenshot: %s", path)
}

// signIn enters a token in the page's token form.
func (p *page) signIn(token, who string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), token))
	p.click("#token-form button")
	p.until("signed in as "+who, fmt.Sprintf(`document.getElementById("who").textContent === %q`, who))
}

// TestDashboardInBrowser runs the dashboard in headless Chromium against a daemon that runs
// real analyses on loopback apps: the list fills and changes live, without a reload; a rollback
// shows its reason and the failing check's latest interval drawn above its limit; a promote and
// a wait on a person show; a dropped event stream resumes after the last event received, with
// nothing repeated or missed; promoting by hand needs the admin scope; the token never appears
// in the page or a URL; the page obeys its Content-Security-Policy and reads on a phone.
func TestDashboardInBrowser(t *testing.T) {
	chrome := chromium(t)
	dir := artifacts(t)
	blue, green := serveApps(t, app.Config{Color: "blue", Version: "v1"}, app.Config{Color: "green", Version: "v2"})
	_, broken := serveApps(t, app.Config{}, brokenSlow)
	cut := &cutter{}
	d, _ := boardDaemon(t, daemonConfig{tokens: testTokens(t), handler: cut.wrap})

	alloc, cancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"))...)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	// The first action starts the browser, for as long as browser lasts; the test's actions
	// run under one generous deadline.
	require.NoError(t, chromedp.Do(browser, chromedp.Navigate("about:blank")))
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()
	p := &page{t: t, ctx: ctx}
	p.listen(ctx)

	// The page is public; the API needs a token, entered once.
	p.do(chromedp.Navigate(d.url + "/"))
	eval[bool](p, `window.__violations = []; document.addEventListener("securitypolicyviolation", (e) => __violations.push(e.violatedDirective)); window.__loaded = 1; true`)
	p.signIn(readToken, "reader (read)")
	p.until("the list", `document.body.dataset.view === "list" && document.getElementById("main").dataset.ready === "true"`)

	// Analyses started now appear and decide on the page as it stands.
	rolled := d.start(writeToken, on("checkout", blue, broken))
	promoted := d.start(writeToken, on("checkout", blue, green))
	held := d.start(writeToken, on("hold", blue, green))
	long := d.start(writeToken, on("long", blue, green))
	row := func(id string) string { return fmt.Sprintf(`document.querySelector('tr[data-id=%q]')`, id) }
	for _, a := range []analysisView{rolled, promoted, held, long} {
		p.until("a line for "+a.ID, row(a.ID)+` !== null`)
	}
	p.until("the rollback", row(rolled.ID)+`.dataset.state === "rollback"`)
	p.until("the promote", row(promoted.ID)+`.dataset.state === "promote"`)
	p.until("the wait on a person", row(held.ID)+`.dataset.state === "inconclusive"`)
	p.until("the running analysis's elapsed time", row(long.ID)+`.querySelector("progress") !== null`)
	assert.Equal(t, 1, eval[int](p, `window.__loaded`), "no reload: the page updated itself")
	assert.Contains(t, p.text(`tr[data-id="`+rolled.ID+`"]`), "rollback")
	assert.Contains(t, p.text(`tr[data-id="`+rolled.ID+`"]`), "errors", "the check closest to failing")
	assert.Contains(t, p.text(`tr[data-id="`+promoted.ID+`"]`), "promote")
	assert.Contains(t, p.text(`tr[data-id="`+held.ID+`"]`), "waiting on a person")
	assert.Contains(t, p.text(`tr[data-id="`+long.ID+`"]`), "deciding")
	p.screenshot(dir, "dashboard-list.png")

	// The rollback: its reason, and the errors check's interval above its limit.
	p.click(`tr[data-id="` + rolled.ID + `"] a`)
	p.until("the rollback's page", `document.body.dataset.view === "analysis" && document.querySelector('[data-check="errors"][data-state="fail"] svg .now') !== null`)
	p.until("the verdict", `document.getElementById("verdict-h").textContent === "Verdict: rollback"`)
	assert.Contains(t, p.text("#reason"), "errors: error rate green 100.00% vs blue 0.00%")
	type geometry struct {
		Lower, Limit, Y1, Y2, LimitY float64
		Points                       int
		Caption                      string
	}
	geo := eval[geometry](p, `(() => {
		const card = document.querySelector('[data-check="errors"]');
		const now = card.querySelector('svg .now'), limit = card.querySelector('svg .limit[data-side="max"]');
		return {Lower: Number(now.dataset.lower), Limit: Number(limit.dataset.limit),
			Y1: Number(now.getAttribute("y1")), Y2: Number(now.getAttribute("y2")), LimitY: Number(limit.getAttribute("y1")),
			Points: card.querySelector('svg polygon.band').getAttribute("points").split(" ").length / 2,
			Caption: card.querySelector("figcaption").textContent};
	})()`)
	assert.Equal(t, 0.1, geo.Limit)
	assert.Greater(t, geo.Lower, geo.Limit, "the latest interval's lower end is past the limit")
	// The interval failed the moment its lower end passed the limit: it is drawn from there up.
	assert.Less(t, geo.Y1, geo.LimitY, "drawn above the limit line")
	assert.LessOrEqual(t, geo.Y2, geo.LimitY, "drawn above the limit line")
	assert.Greater(t, geo.Points, 2, "the interval's course over the evaluations")
	assert.Contains(t, geo.Caption, "lies above the limit +10pp")
	assert.Contains(t, p.text(`[data-check="errors"] table.sides`), "blue (baseline)")
	assert.Contains(t, p.text(`[data-check="errors"] table.sides`), "green (candidate)")
	assert.Contains(t, p.text("#smoke-h"), "Smoke")
	overrideButtons := `document.querySelectorAll('[id^="override-"]').length`
	assert.Zero(t, eval[int](p, overrideButtons), "a read token is offered no override")
	assert.Contains(t, p.text("#needs-admin"), "needs an admin token")
	p.screenshot(dir, "dashboard-rollback.png")

	// A dropped stream resumes after the last event received.
	eval[string](p, `location.hash = "#/analyses/`+long.ID+`"`)
	p.until("the running analysis's ticks", `document.getElementById("main").dataset.analysis === "`+long.ID+`" && Number(document.getElementById("main").dataset.ticks) >= 3 && document.getElementById("main").dataset.conn === "live"`)
	before := eval[int](p, `Number(document.getElementById("main").dataset.lastSeq)`)
	path := "/api/v1/analyses/" + long.ID + "/events"
	require.Positive(t, cut.cut())
	p.until("the stream back, with events after the cut", fmt.Sprintf(`document.getElementById("main").dataset.connects === "2" && Number(document.getElementById("main").dataset.lastSeq) > %d + 2`, before))
	counts := eval[struct{ Dupes, Gaps string }](p, `({Dupes: document.getElementById("main").dataset.dupes, Gaps: document.getElementById("main").dataset.gaps})`)
	assert.Equal(t, "0", counts.Dupes, "no event twice")
	assert.Equal(t, "0", counts.Gaps, "no event missed")
	asked := cut.requests(path)
	require.GreaterOrEqual(t, len(asked), 2)
	assert.Empty(t, asked[0], "the first request starts from the beginning")
	resumed, err := strconv.Atoi(asked[len(asked)-1])
	require.NoError(t, err, "the reconnect sends Last-Event-ID")
	assert.GreaterOrEqual(t, resumed, before)

	// The hold waits on a person; only an admin token may decide it, from the keyboard.
	eval[string](p, `location.hash = "#/analyses/`+held.ID+`"`)
	p.until("the wait", `document.getElementById("main").dataset.analysis === "`+held.ID+`" && document.getElementById("verdict-h") !== null && document.getElementById("verdict-h").textContent === "Verdict: waiting on a person"`)
	assert.Zero(t, eval[int](p, overrideButtons))
	p.click("#forget")
	p.signIn(adminToken, "oncall (admin)")
	p.until("the promote button", `document.getElementById("override-promote") !== null`)
	p.do(chromedp.Focus(chromedp.ID("override-promote")), chromedp.KeyEvent("\r"))
	p.until("the dialog, its field focused", `document.getElementById("confirm").open && document.activeElement.id === "dialog-field"`)
	p.do(chromedp.SendKeys(chromedp.ID("dialog-field"), "checked the latency by hand\r"))
	p.until("the override", `document.getElementById("verdict-h").textContent === "Verdict: promote"`)
	assert.Contains(t, p.text("#verdict"), "Overridden to promote by oncall")
	var v verdictView
	d.callJSON("GET", "/api/v1/analyses/"+held.ID+"/verdict", readToken, nil, http.StatusOK, &v)
	assert.Equal(t, "promote", v.Verdict)
	require.NotNil(t, v.Override)
	assert.Equal(t, "checked the latency by hand", v.Override.Why)

	// The token stays out of the page and its URLs; every control is labelled; nothing broke
	// the Content-Security-Policy.
	type leakage struct {
		InPage, InURL bool
		Unlabelled    []string
		Violations    []string
	}
	leaks := eval[leakage](p, fmt.Sprintf(`({InPage: document.documentElement.outerHTML.includes(%q), InURL: location.href.includes(%q),
		Unlabelled: [...document.querySelectorAll("input, select")].filter((e) => e.labels.length === 0 && !e.getAttribute("aria-label")).map((e) => e.id)
			.concat([...document.querySelectorAll("button")].filter((b) => !b.textContent.trim()).map((b) => b.id)),
		Violations: window.__violations || []})`, adminToken, adminToken))
	assert.False(t, leaks.InPage, "the token is never shown")
	assert.False(t, leaks.InURL, "the token is never in a URL")
	assert.Empty(t, leaks.Unlabelled)
	assert.Empty(t, leaks.Violations)

	// On a phone the list's lines become cards.
	p.do(chromedp.EmulateViewport(390, 844))
	eval[string](p, `location.hash = "#/"`)
	p.until("the list on a phone", row(rolled.ID)+` !== null`)
	assert.Equal(t, "block", eval[string](p, `getComputedStyle(`+row(rolled.ID)+`).display`))
}

// TestChecksJSMatchesGo: the page's limits (checks.js), which draw the charts and pick the
// check closest to failing, are verdict's (CheckResult.Limits), which the metrics show and which
// agree with compare's judges (TestLimitsMatchJudges).
func TestChecksJSMatchesGo(t *testing.T) {
	chrome := chromium(t)
	d := startDaemon(t, daemonConfig{})
	alloc, cancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox)...)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	require.NoError(t, chromedp.Do(browser, chromedp.Navigate("about:blank")))
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()
	p := &page{t: t, ctx: ctx}
	p.listen(ctx)
	p.do(chromedp.Navigate(d.url + "/"))

	outcomes, err := judged.Outcomes()
	require.NoError(t, err)
	data, err := json.Marshal(outcomes)
	require.NoError(t, err)
	type jsLimit struct {
		Effect                                  string
		Value, Lower, Upper, Min, Max, Violated string
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[][]jsLimit](`import("/ui/checks.js").then((m) => `+string(data)+`.map((c) =>
		m.limits(c).map((l) => ({Effect: l.effect, Value: String(l.interval.value), Lower: String(l.interval.lower),
			Upper: String(l.interval.upper), Min: String(l.min), Max: String(l.max), Violated: String(m.violated(l))}))))`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err, "%s", p.console)
	require.Len(t, got, len(outcomes))
	js := func(x float64) string {
		switch {
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		case math.IsNaN(x):
			return "NaN"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	for i, c := range outcomes {
		var want []jsLimit
		for _, l := range c.Limits() {
			want = append(want, jsLimit{Effect: l.Effect, Value: js(l.Interval.Value), Lower: js(l.Interval.Lower), Upper: js(l.Interval.Upper),
				Min: js(l.Min), Max: js(l.Max), Violated: strconv.FormatBool(l.Violated())})
		}
		assert.Equal(t, want, got[i], c.Name)
	}
}
