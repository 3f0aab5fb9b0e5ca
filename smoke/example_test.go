package smoke_test

import (
	"path/filepath"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadExample loads one of the shipped example suites, as a user would run it.
func loadExample(t *testing.T, name string) *specs.Suite {
	t.Helper()
	docs, err := specs.Load([]string{filepath.Join("..", "examples", "suites", name)},
		specs.LoadOptions{LookupEnv: envOf(map[string]string{"SMOKE_PASS": "testpass"})})
	require.NoError(t, err)
	return docs.Suites[0]
}

func startApp(t *testing.T, cfg app.Config) *app.Server {
	t.Helper()
	srv, err := app.Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestExampleCheckoutSmoke(t *testing.T) {
	tests := []struct {
		name     string
		faults   app.Faults
		statuses []smoke.Status
		detail   map[string]string // step → Detail of its first condition
	}{
		{
			name:     "healthy app",
			statuses: []smoke.Status{smoke.Passed, smoke.Passed, smoke.Passed, smoke.Passed, smoke.Passed},
		},
		{
			name:     "profile always fails",
			faults:   app.Faults{ErrorRate: map[string]float64{"/api/user/profile": 1}},
			statuses: []smoke.Status{smoke.Passed, smoke.Passed, smoke.Failed, smoke.Skipped, smoke.Skipped},
			detail:   map[string]string{"profile": "status (500) == 200"},
		},
	}
	suite := loadExample(t, "checkout-smoke.yaml")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startApp(t, app.Config{Color: "green", Version: "2.0.0", Faults: tt.faults})
			res := runSuite(t, suite, srv.URL)
			require.Equal(t, tt.statuses, statuses(res), dump(res))
			for name, want := range tt.detail {
				s := step(t, res, name)
				require.NotEmpty(t, s.Conditions, name)
				assert.Equal(t, want, s.Conditions[0].Detail, name)
			}
			if tt.detail == nil {
				assert.Equal(t, []string{"token"}, step(t, res, "login").Captured)
				assert.Equal(t, 201, step(t, res, "create-order").StatusCode)
			}
		})
	}
}

func TestExampleRollbackRehearsal(t *testing.T) {
	tests := []struct {
		name             string
		greenOrderFormat int
		want             smoke.Status
		detail           string
	}{
		{name: "green writes a format blue cannot read", greenOrderFormat: 2, want: smoke.Failed, detail: "status (500) == 200"},
		{name: "green keeps the old format", greenOrderFormat: 1, want: smoke.Passed},
	}
	suite := loadExample(t, "rollback-rehearsal.yaml")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := app.NewStore()
			blue := startApp(t, app.Config{Color: "blue", Version: "1.0.0", Store: store, StrictRead: true})
			greenSrv := startApp(t, app.Config{Color: "green", Version: "2.0.0", Store: store, OrderFormat: tt.greenOrderFormat})
			targets := map[string]smoke.Target{
				"blue":  {Name: "blue", URL: blue.URL},
				"green": {Name: "green", URL: greenSrv.URL},
			}
			require.NoError(t, smoke.CheckTargets(suite, targets))
			res := smoke.NewRunner(testUserAgent, nil).Run(t.Context(), suite, "green", targets)
			read := step(t, res, "read-on-blue")
			require.Equal(t, tt.want, read.Status, dump(res))
			assert.Equal(t, tt.want, res.Status)
			assert.Equal(t, "blue", read.Environment)
			assert.Equal(t, "green", step(t, res, "write-on-green").Environment)
			if tt.detail != "" {
				require.NotEmpty(t, read.Conditions)
				assert.Equal(t, tt.detail, read.Conditions[0].Detail)
			}
		})
	}
}
