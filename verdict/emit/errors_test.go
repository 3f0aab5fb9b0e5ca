package emit_test

import (
	"context"
	"errors"
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
)

func TestTransportErrorDropsTheURL(t *testing.T) {
	const hook = "https://hooks.example.com/services/T000/B000/tok3nTOK3N?key=s3cr3t"
	refused := &url.Error{Op: "Post", URL: hook, Err: syscall.ECONNREFUSED}
	err := emit.TransportError(refused)
	assert.Equal(t, "Post: connection refused", err.Error())
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the cause stays inspectable")

	timeout := &url.Error{Op: "Post", URL: hook, Err: context.DeadlineExceeded}
	assert.Equal(t, "Post: timeout: context deadline exceeded", emit.TransportError(timeout).Error())

	plain := errors.New("boom")
	assert.Equal(t, plain, emit.TransportError(plain))
}

func TestURLSecretsCoverWhatAReceiverEchoes(t *testing.T) {
	const hook = "https://bot:pw-5555@hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX?sig=abcdef123456"
	rd := secret.NewRedactor(emit.URLSecrets(hook)...)
	for _, echoed := range []string{
		hook,
		"/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX?sig=abcdef123456",
		"no_service: XXXXXXXXXXXXXXXXXXXXXXXX",
		"bad sig abcdef123456",
		"user pw-5555",
	} {
		got := rd.Redact(echoed)
		for _, s := range []string{"XXXXXXXXXXXXXXXXXXXXXXXX", "abcdef123456", "pw-5555"} {
			assert.NotContains(t, got, s, echoed)
		}
	}
	assert.Equal(t, "status 404 for hooks.example.com", rd.Redact("status 404 for hooks.example.com"), "the host alone is no secret")
	assert.Error(t, emit.CheckURL("hooks.example.com/x"))
	assert.NoError(t, emit.CheckURL(hook))
}
