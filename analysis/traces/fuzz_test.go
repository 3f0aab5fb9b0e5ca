package traces

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzReceiver feeds arbitrary bodies as protobuf or JSON, plain or claimed gzip: the receiver
// must answer 200, 400 or 413 and never panic.
func FuzzReceiver(f *testing.F) {
	td := twoEnvs("service.version")
	valid := protoBody(f, td)
	f.Add(valid, false, false)
	f.Add(jsonBody(f, td), true, false)
	f.Add(gz(f, valid), false, true)
	f.Add(gz(f, jsonBody(f, td)), true, true)
	f.Add([]byte{}, false, false)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00","spanId":""}]}]}]}`), true, false)
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x10}, false, false)

	r, err := newStandalone(testConfig{Values: map[string]string{"v1": "blue", "v2": "green"}, MaxBodyBytes: 64 << 10, MaxSpans: 1000}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON, gzipped bool) {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentProto)
		if asJSON {
			req.Header.Set("Content-Type", contentJSON)
		}
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
