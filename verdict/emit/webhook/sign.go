package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight/greenlight/secret"
)

// SecretPrefix marks a secret in the Standard Webhooks form: "whsec_" then the key in base64.
const SecretPrefix = "whsec_"

// MinKeyBytes is the shortest signing key accepted. Standard Webhooks asks for 24 to 64
// random bytes; shorter keys are refused rather than silently weak.
const MinKeyBytes = 16

// DecodeSecret returns a signing secret's key: the base64 after "whsec_", or the secret's
// bytes as written when it has no such prefix.
func DecodeSecret(s secret.Secret) ([]byte, error) {
	v := strings.TrimSpace(s.Reveal())
	var key []byte
	if rest, ok := strings.CutPrefix(v, SecretPrefix); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			// The base64 error quotes the offending byte's offset only, never the secret.
			return nil, fmt.Errorf("a %s secret must be base64 after the prefix: %w", SecretPrefix, err)
		}
		key = b
	} else {
		key = []byte(v)
	}
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("signing key is %d bytes, fewer than %d (generate one with: openssl rand -base64 32)", len(key), MinKeyBytes)
	}
	return key, nil
}

// Signer signs deliveries with one or more keys: several while a secret is rotated, so that
// a receiver that knows either the old or the new one accepts the message.
type Signer struct {
	keys [][]byte
}

// NewSigner decodes the secrets (see DecodeSecret); at least one is needed.
func NewSigner(secrets ...secret.Secret) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no signing secret")
	}
	s := &Signer{}
	for i, sec := range secrets {
		k, err := DecodeSecret(sec)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i+1, err)
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// Sign returns the webhook-signature header for one attempt: "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" for each key, space-separated.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	unix := strconv.FormatInt(ts.Unix(), 10)
	sigs := make([]string, len(s.keys))
	for i, k := range s.keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(unix))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " ")
}
