package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/greenlight/greenlight/examples/app"
)

// options are the parsed command line: where to listen and the app Config.
type options struct {
	addr string
	cfg  app.Config
}

// parseFlags turns args into options. Fault flags are validated the way
// PUT /admin/faults validates them, so a typo in a route fails at start-up
// instead of silently injecting nothing.
func parseFlags(args []string, output io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("exampleapp", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: exampleapp [flags]\n\n"+
			"Serves the greenlight example app. Fault route keys: %q or one of %s.\n\nFlags:\n",
			app.AllRoutes, strings.Join(app.FaultRoutes(), ", "))
		fs.PrintDefaults()
	}

	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (port 0 picks a free one)")
	fs.StringVar(&o.cfg.Color, "color", "blue", "colour reported by /health")
	fs.StringVar(&o.cfg.Version, "version", "v1", "version reported by /health")
	fs.StringVar(&o.cfg.Username, "username", app.DefaultUsername, "login username")
	fs.StringVar(&o.cfg.Password, "password", app.DefaultPassword, "login password")
	fs.StringVar(&o.cfg.SyntheticHeader, "synthetic-header", app.DefaultSyntheticHeader, "request header that marks synthetic traffic")
	fs.IntVar(&o.cfg.OrderFormat, "order-format", 1, "order schema to write and render: 1 (quantity as number) or 2 (quantity as string)")
	fs.BoolVar(&o.cfg.StrictRead, "strict-read", false, "answer 500 when reading an order written in a newer format")
	fs.Int64Var(&o.cfg.Seed, "seed", 0, "seed for fault injection (0 = random)")
	fs.Var(routeMap[app.Duration]{m: &o.cfg.Faults.Latency, parse: parseDuration}, "latency",
		"add latency to a route, as route=duration (e.g. /api/orders=200ms); repeatable")
	fs.Var(routeMap[app.Duration]{m: &o.cfg.Faults.Jitter, parse: parseDuration}, "jitter",
		"add up to this much random latency to a route, as route=duration; repeatable")
	fs.Var(routeMap[float64]{m: &o.cfg.Faults.ErrorRate, parse: parseRate}, "errors",
		"answer this fraction of a route's requests with 500, as route=rate (e.g. /api/orders=0.03); repeatable")

	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.cfg.OrderFormat != 1 && o.cfg.OrderFormat != 2 {
		return options{}, fmt.Errorf("-order-format: %d is not 1 or 2", o.cfg.OrderFormat)
	}
	if err := o.cfg.Faults.Validate(); err != nil {
		return options{}, fmt.Errorf("invalid faults: %w", err)
	}
	return o, nil
}

// routeMap is a repeatable route=value flag that fills one Faults map.
type routeMap[V any] struct {
	m     *map[string]V
	parse func(string) (V, error)
}

func (f routeMap[V]) String() string {
	if f.m == nil || *f.m == nil {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(*f.m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, (*f.m)[k]))
	}
	return strings.Join(parts, ",")
}

func (f routeMap[V]) Set(s string) error {
	route, raw, ok := strings.Cut(s, "=")
	if !ok || route == "" {
		return errors.New("want route=value, e.g. /api/orders=200ms")
	}
	v, err := f.parse(raw)
	if err != nil {
		return err
	}
	if *f.m == nil {
		*f.m = make(map[string]V)
	}
	(*f.m)[route] = v
	return nil
}

func parseDuration(s string) (app.Duration, error) {
	var d app.Duration
	err := d.UnmarshalText([]byte(s))
	return d, err
}

func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("parse rate: %w", err)
	}
	return r, nil
}
