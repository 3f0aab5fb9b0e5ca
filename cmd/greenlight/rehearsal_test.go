package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/verdict"
)

const rehearsal = "../../examples/suites/rollback-rehearsal.yaml"

// TestRollbackRehearsalExample runs examples/suites/rollback-rehearsal.yaml as its comment
// says, against apps started the way examples/app/README.md starts them: one store shared by
// blue and green (cmd/bluegreen), as two versions of a service share one database. Two apps
// with a store each cannot pass it — blue never finds green's order — which is why the README
// no longer offers two standalone exampleapp processes for it.
func TestRollbackRehearsalExample(t *testing.T) {
	t.Setenv("SMOKE_PASS", "testpass")
	pair := func(blue, green app.Config) []string {
		return []string{"--env", "blue=" + startApp(t, blue), "--env", "green=" + startApp(t, green)}
	}

	t.Run("shared store", func(t *testing.T) {
		store := app.NewStore()
		code, out, errOut := cli(t, append([]string{"smoke", rehearsal}, pair(
			app.Config{Color: "blue", Version: "v1", Store: store},
			app.Config{Color: "green", Version: "v2", Store: store})...)...)
		require.Equal(t, verdict.ExitPass, code, out+errOut)
		assert.Contains(t, out, "✓ read-on-blue")
	})
	t.Run("shared store, green writes what blue cannot read", func(t *testing.T) {
		store := app.NewStore()
		code, out, errOut := cli(t, append([]string{"smoke", rehearsal}, pair(
			app.Config{Color: "blue", Version: "v1", Store: store, StrictRead: true},
			app.Config{Color: "green", Version: "v2", Store: store, OrderFormat: 2})...)...)
		require.Equal(t, verdict.ExitFail, code, out+errOut)
		assert.Contains(t, out, "✗ read-on-blue  500")
	})
	t.Run("a store each", func(t *testing.T) {
		code, out, errOut := cli(t, append([]string{"smoke", rehearsal}, pair(
			app.Config{Color: "blue", Version: "v1"},
			app.Config{Color: "green", Version: "v2"})...)...)
		require.Equal(t, verdict.ExitFail, code, out+errOut)
		assert.Contains(t, out, "✗ read-on-blue  404", "blue never finds green's order")
	})
}
