package emit_test

import (
	"context"
	"errors"
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

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
