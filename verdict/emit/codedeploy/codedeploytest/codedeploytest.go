// Package codedeploytest is a local endpoint that speaks CodeDeploy's JSON 1.1 protocol for
// PutLifecycleEventHookExecutionStatus, the way the AWS SDK reaches it through BaseEndpoint:
// it records every call exactly as sent and answers what the test tells it to. It is for
// tests only.
package codedeploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Target is the X-Amz-Target of the one operation served.
const Target = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"

// Region and the static credentials AWSConfig signs with.
const (
	Region    = "us-east-1"
	AccessKey = "AKIDGREENLIGHTTEST"
	SecretKey = "greenlight-test-secret-key"
)

// Call is one request as received.
type Call struct {
	Method        string
	Path          string
	Target        string // X-Amz-Target
	ContentType   string
	Authorization string
	Body          string // exactly as sent
	// Input is the body decoded.
	Input Input
}

// Input is PutLifecycleEventHookExecutionStatus's request.
type Input struct {
	DeploymentID                  string `json:"deploymentId"`
	LifecycleEventHookExecutionID string `json:"lifecycleEventHookExecutionId"`
	Status                        string `json:"status"`
}

// Reply is an answer: a status code and, for errors, CodeDeploy's error type and message.
type Reply struct {
	Status  int
	Type    string // e.g. "LifecycleEventAlreadyCompletedException"; "" for success
	Message string
}

// Server is the fake endpoint.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	calls   []Call
	replies []Reply
	// Calls receives every call (buffered); tests wait on it.
	Calls chan Call
}

// New starts a fake endpoint, closed at the end of the test. Every call succeeds unless Queue
// says otherwise.
func New(t testing.TB) *Server {
	s := &Server{Calls: make(chan Call, 64)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Queue sets the answers to the next calls, in order; calls after them succeed.
func (s *Server) Queue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

// Recorded returns the calls so far.
func (s *Server) Recorded() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// AWSConfig is an SDK configuration that signs with static test credentials in Region.
func AWSConfig() *aws.Config {
	return &aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := Call{Method: r.Method, Path: r.URL.Path, Target: r.Header.Get("X-Amz-Target"), ContentType: r.Header.Get("Content-Type"),
		Authorization: r.Header.Get("Authorization"), Body: string(b)}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	decodeErr := dec.Decode(&c.Input)
	s.mu.Lock()
	s.calls = append(s.calls, c)
	reply := Reply{Status: http.StatusOK}
	if len(s.replies) > 0 {
		reply, s.replies = s.replies[0], s.replies[1:]
	}
	s.mu.Unlock()
	select {
	case s.Calls <- c:
	default:
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("req-%d", len(s.Recorded())))
	switch {
	case c.Target != Target:
		reply = Reply{Status: http.StatusBadRequest, Type: "UnknownOperationException", Message: "unexpected X-Amz-Target " + c.Target}
	case decodeErr != nil:
		reply = Reply{Status: http.StatusBadRequest, Type: "SerializationException", Message: decodeErr.Error()}
	}
	if reply.Type == "" && reply.Status < 300 {
		w.WriteHeader(reply.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"lifecycleEventHookExecutionId": c.Input.LifecycleEventHookExecutionID})
		return
	}
	w.WriteHeader(reply.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": reply.Type, "message": reply.Message})
}
