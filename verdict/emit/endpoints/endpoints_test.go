package endpoints_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy"
	"github.com/greenlight/greenlight/verdict/emit/endpoints"
	"github.com/greenlight/greenlight/verdict/emit/slack"
	"github.com/greenlight/greenlight/verdict/emit/webhook"
)

func TestBuild(t *testing.T) {
	emitters, routes, err := endpoints.Build([]endpoints.Config{
		{Name: "ops", Kind: "webhook", URL: "https://hooks.example.com/greenlight", Secrets: []secret.Secret{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		{Name: "deploys", Kind: "slack", URL: "https://hooks.slack.com/services/T0/B0/x", Events: []emit.EventType{emit.Decided, emit.WatchRegression}},
		{Name: "codedeploy", Kind: "codedeploy", Events: []emit.EventType{emit.Decided, emit.Aborted, emit.Overridden}},
	}, endpoints.Options{})
	require.NoError(t, err)
	assert.IsType(t, &webhook.Notifier{}, emitters["ops"])
	assert.IsType(t, &slack.Notifier{}, emitters["deploys"])
	assert.IsType(t, &codedeploy.Notifier{}, emitters["codedeploy"])
	assert.Equal(t, []emit.Route{
		{Endpoint: "ops"},
		{Endpoint: "deploys", Events: []emit.EventType{emit.Decided, emit.WatchRegression}},
		{Endpoint: "codedeploy", Events: []emit.EventType{emit.Decided, emit.Aborted, emit.Overridden}},
	}, routes)
	assert.Equal(t, []string{"codedeploy", "slack", "webhook"}, endpoints.KindNames())
}

func TestBuildReportsEveryProblem(t *testing.T) {
	_, _, err := endpoints.Build([]endpoints.Config{
		{Name: "a", Kind: "webhook", URL: "https://x.test"},
		{Name: "a", Kind: "webhook", URL: "https://x.test"},
		{Name: "b", Kind: "pagerduty", URL: "https://x.test"},
		{Name: "c", Kind: "slack", URL: "https://hooks.slack.com/services/T0/B0/x", Secrets: []secret.Secret{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		{Name: "d", Kind: "webhook", URL: "https://x.test", Events: []emit.EventType{"analysis.finished"}},
		{Kind: "webhook"},
		{Name: "e", Kind: "webhook", URL: "ftp://x.test"},
		{Name: "f", Kind: "codedeploy", URL: "codedeploy.us-east-1.amazonaws.com"},
		{Name: "g", Kind: "codedeploy", Headers: map[string]secret.Secret{"Authorization": "x"}},
	}, endpoints.Options{})
	require.Error(t, err)
	for _, want := range []string{
		`endpoint 2 ("a"): the name is used twice`,
		`endpoint 3 ("b"): unknown kind "pagerduty" (want one of codedeploy, slack, webhook)`,
		`slack "c": an incoming webhook takes no secrets or headers`,
		`endpoint 5 ("d"): unknown event type "analysis.finished"`,
		`endpoint 6: no name`,
		`webhook "e": url must be an absolute http or https URL`,
		`codedeploy "f": endpoint: url must be an absolute http or https URL`,
		`codedeploy "g": takes no secrets or headers`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "MfKQ9r8")
}
