package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// BenchmarkFrontDoor measures how fast the template handler answers 202
// through the gateway with a warm process: parse, validate, self-invoke
// through the Invoke API, answer.
//
//	go test -run '^$' -bench FrontDoor ./cmd/devserver
func BenchmarkFrontDoor(b *testing.B) {
	cfg := defaultConfig()
	cfg.GatewayPort, cfg.S3Port, cfg.DestinationPort = 0, 0, 0
	cfg.Root, cfg.FixturesDir, cfg.EnvFile = "../..", "../../fixtures", b.TempDir()+"/none"
	ctx, cancel := context.WithCancel(context.Background())
	d, err := start(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.serve(ctx) }()
	defer func() { cancel(); <-served }()
	gw, s3URL, destURL := d.service("gateway").url(), d.service("s3").url(), d.service("destination").url()
	body := requestJSON(s3URL+"/test-bucket/edge-cases.ndjson", destURL+"/mock/poll/", "wh-bench")
	post := func() int {
		resp, err := http.Post(gw+"/lambda/template", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 { // build, cold start, SDK configuration
		if code := post(); code != 202 {
			b.Fatalf("front door answered %d", code)
		}
	}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if code := post(); code != 202 {
			b.Fatalf("front door answered %d", code)
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
