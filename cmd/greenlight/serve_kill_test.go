package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
)

// TestServeSurvivesKill9 builds the real binary and kills it with SIGKILL at random moments —
// while analyses are being started and decided — then starts it again on the same data, many
// times. Whatever the moment: a verdict once reported never changes, an idempotency key never
// yields a second analysis, no analysis is lost, and every one not decided is running again.
func TestServeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; full run")
	}
	bin := filepath.Join(t.TempDir(), "greenlight")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	blue := startApp(t, app.Config{})
	failing := startApp(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})
	args := []string{"serve", "--listen", "127.0.0.1:0", "--config", specDir(t, serveSpecs), "--data", t.TempDir(), "--tokens-file", tokensFile(t)}

	reported := map[string]verdictJSON{} // verdicts seen decided, by analysis id
	ids := map[string]string{}           // analysis id by idempotency key
	rng := rand.New(rand.NewPCG(11, 9))
	const rounds = 10
	for round := range rounds {
		d := startBinary(t, bin, args)
		// Everything seen before the kill is as it was.
		for id, v := range reported {
			var now verdictJSON
			require.Equal(t, http.StatusOK, d.call(t, "GET", "/api/v1/analyses/"+id+"/verdict", serveReadToken, "", &now))
			assert.Equal(t, v, now, "round %d: a reported verdict changed", round)
		}
		var list struct {
			Analyses []struct {
				ID, Key, Verdict string
			} `json:"analyses"`
		}
		require.Equal(t, http.StatusOK, d.call(t, "GET", "/api/v1/analyses?limit=500", serveReadToken, "", &list))
		byKey := map[string]string{}
		for _, a := range list.Analyses {
			_, dup := byKey[a.Key]
			assert.False(t, dup, "round %d: key %s has two analyses", round, a.Key)
			byKey[a.Key] = a.ID
		}
		for key, id := range ids {
			assert.Equal(t, id, byKey[key], "round %d: the analysis of key %s is lost or changed", round, key)
		}
		if round == rounds-1 {
			// Every analysis not decided runs again on this daemon: it can be aborted here — or,
			// a gate whose smoke fails at once, it has decided on its own since the list was read
			// (the abort then answers 409 and the verdict is its own).
			running := 0
			for _, a := range list.Analyses {
				if a.Verdict != "running" {
					continue
				}
				running++
				var v verdictJSON
				status, ok := d.try("POST", "/api/v1/analyses/"+a.ID+"/abort", serveAdminToken, `{"reason": "test over"}`, &v)
				require.True(t, ok, a.ID)
				if status == http.StatusConflict {
					require.Equal(t, http.StatusOK, d.call(t, "GET", "/api/v1/analyses/"+a.ID+"/verdict", serveReadToken, "", &v))
					assert.True(t, v.Decided, "%s: a 409 only for an analysis that decided meanwhile", a.ID)
					assert.NotEqual(t, "interrupted", v.State, "%s: decided by itself, not aborted", a.ID)
					continue
				}
				require.Equal(t, http.StatusOK, status, a.ID)
				assert.Equal(t, "interrupted", v.State)
			}
			assert.NotZero(t, running, "some analyses were running at each kill")
			break
		}

		// Start analyses and read verdicts from two clients while the daemon is killed after a
		// random number of answers.
		killAfter := 1 + rng.IntN(8)
		var (
			mu      sync.Mutex
			answers int
			wg      sync.WaitGroup
			killed  = make(chan struct{})
			once    sync.Once
		)
		answered := func() {
			mu.Lock()
			answers++
			n := answers
			mu.Unlock()
			if n == killAfter {
				once.Do(func() { d.kill(t); close(killed) })
			}
		}
		for c := range 2 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-killed:
						return
					default:
					}
					key := fmt.Sprintf("r%d-c%d-%d", round, c, i)
					spec, green := "gate", failing
					if i%2 == 1 {
						spec, green = "long", blue
					}
					body := `{"spec": "` + spec + `", "key": "` + key + `", "environments": {"blue": "` + blue + `", "green": "` + green + `"}}`
					var a struct{ ID string }
					status, ok := d.try("POST", "/api/v1/analyses", serveAdminToken, body, &a)
					if !ok {
						return // killed
					}
					if status == http.StatusCreated || status == http.StatusOK {
						mu.Lock()
						ids[key] = a.ID
						mu.Unlock()
					}
					answered()
					if spec == "gate" && a.ID != "" {
						var v verdictJSON
						if _, ok := d.try("GET", "/api/v1/analyses/"+a.ID+"/verdict?wait=30s", serveReadToken, "", &v); !ok {
							return
						}
						if v.Decided {
							mu.Lock()
							reported[a.ID] = v
							mu.Unlock()
						}
						answered()
					}
				}
			})
		}
		wg.Wait()
		<-killed
	}
	assert.NotEmpty(t, reported)
	t.Logf("%d rounds: %d analyses started, %d verdicts reported before a kill", rounds, len(ids), len(reported))
}

// binary is the real greenlight serve, running.
type binary struct {
	cmd  *exec.Cmd
	url  string
	once sync.Once
}

func startBinary(t *testing.T, bin string, args []string) *binary {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	b := &binary{cmd: cmd}
	t.Cleanup(func() { b.kill(t) })
	sc := bufio.NewScanner(stderr)
	var logs strings.Builder
	for sc.Scan() {
		logs.WriteString(sc.Text() + "\n")
		if u, ok := strings.CutPrefix(sc.Text(), "greenlight: serving on "); ok {
			b.url = u
			break
		}
	}
	require.NotEmpty(t, b.url, "greenlight serve did not start:\n%s", logs.String())
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	return b
}

// kill sends SIGKILL and waits for the process to be gone.
func (b *binary) kill(t *testing.T) {
	b.once.Do(func() {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	})
}

// try makes a request; ok is false when the daemon is gone (killed).
func (b *binary) try(method, path, token, body string, out any) (int, bool) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	if err != nil {
		return 0, false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	if out != nil && json.Unmarshal(data, out) != nil {
		return 0, false
	}
	return resp.StatusCode, true
}

func (b *binary) call(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	status, ok := b.try(method, path, token, body, out)
	require.True(t, ok, "%s %s", method, path)
	return status
}
