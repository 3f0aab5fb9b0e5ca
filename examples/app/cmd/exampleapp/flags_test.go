package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string // substring; empty means success
	}{
		{name: "defaults", args: nil, want: options{addr: "127.0.0.1:8080", cfg: app.Config{
			Color: "blue", Version: "v1", Username: "testuser", Password: "testpass",
			SyntheticHeader: "X-Greenlight-Synthetic", OrderFormat: 1}}},
		{name: "everything", args: []string{
			"-addr", ":0", "-color", "green", "-version", "v2", "-order-format", "2", "-strict-read",
			"-seed", "7", "-synthetic-header", "X-Probe", "-username", "u", "-password", "p",
			"-latency", "/api/orders=200ms", "-latency", "*=5ms", "-jitter", "/health=1s",
			"-errors", "/api/orders=0.03",
		}, want: options{addr: ":0", cfg: app.Config{
			Color: "green", Version: "v2", Username: "u", Password: "p", SyntheticHeader: "X-Probe",
			OrderFormat: 2, StrictRead: true, Seed: 7,
			Faults: app.Faults{
				Latency:   map[string]app.Duration{"/api/orders": app.Duration(200 * time.Millisecond), "*": app.Duration(5 * time.Millisecond)},
				Jitter:    map[string]app.Duration{"/health": app.Duration(time.Second)},
				ErrorRate: map[string]float64{"/api/orders": 0.03},
			}}}},
		{name: "repeated route keeps the last value", args: []string{"-latency", "/health=1s", "-latency", "/health=2s"},
			want: options{addr: "127.0.0.1:8080", cfg: app.Config{
				Color: "blue", Version: "v1", Username: "testuser", Password: "testpass",
				SyntheticHeader: "X-Greenlight-Synthetic", OrderFormat: 1,
				Faults: app.Faults{Latency: map[string]app.Duration{"/health": app.Duration(2 * time.Second)}}}}},
		{name: "unknown fault route", args: []string{"-errors", "/api/order=0.1"}, wantErr: `unknown route "/api/order"`},
		{name: "rate out of range", args: []string{"-errors", "/health=1.5"}, wantErr: "outside [0, 1]"},
		{name: "negative latency", args: []string{"-latency", "/health=-1s"}, wantErr: "negative"},
		{name: "bad duration", args: []string{"-latency", "/health=soon"}, wantErr: "parse duration"},
		{name: "bad rate", args: []string{"-errors", "/health=lots"}, wantErr: "parse rate"},
		{name: "missing equals", args: []string{"-latency", "200ms"}, wantErr: "route=value"},
		{name: "order format 3", args: []string{"-order-format", "3"}, wantErr: "not 1 or 2"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"-colour", "red"}, wantErr: "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q) error = %v, want it to contain %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q) = %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseFlags(%q)\n got  %+v\n want %+v", tt.args, got, tt.want)
			}
		})
	}
}
