package webhook_test

// An independent Standard Webhooks verifier, written from the specification's text rather than
// from this package's signing code, so that the tests check the wire format and not the code
// against itself:
//
//   - signed content: "{webhook-id}.{webhook-timestamp}.{raw body}";
//   - symmetric signature: standard base64 of HMAC-SHA256 over it, prefixed "v1,";
//   - webhook-signature: a space-separated list; any one valid signature accepts the message;
//   - the secret is "whsec_" + base64 of the key (a secret without the prefix is the key's bytes);
//   - compare in constant time; reject timestamps more than 5 minutes away from now.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const tolerance = 5 * time.Minute

func verify(secrets []string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s is %s away", ts, d)
	}
	content := []byte(id + "." + ts + "." + string(body))
	for _, s := range secrets {
		key := []byte(s)
		if strings.HasPrefix(s, "whsec_") {
			key, err = base64.StdEncoding.DecodeString(s[len("whsec_"):])
			if err != nil {
				return err
			}
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(content)
		want := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		for _, sig := range strings.Split(sigs, " ") {
			version, value, ok := strings.Cut(sig, ",")
			if ok && version == "v1" && hmac.Equal([]byte(value), want) {
				return nil
			}
		}
	}
	return errors.New("no valid signature")
}
