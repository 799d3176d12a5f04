package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func reportPercentiles(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	b.ReportMetric(ms(d[len(d)/2]), "p50-ms")
	b.ReportMetric(ms(d[len(d)*99/100]), "p99-ms")
}

// BenchmarkInvoke_Warm measures the gateway's overhead on a warm process:
// Invoke API request in, Runtime API round trip, response out.
//
//	go test -run '^$' -bench Invoke ./emulator/gateway
func BenchmarkInvoke_Warm(b *testing.B) {
	g := newTestGateway(b, nil)
	url := g.srv.URL + "/2015-03-31/functions/version/invocations"
	if code, _, body := post(b, url, `{}`); code != 200 {
		b.Fatalf("%d %s", code, body)
	}
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		if code, _, _ := post(b, url, `{}`); code != 200 {
			b.Fatal(code)
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

// BenchmarkInvoke_Cold measures a cold start with the binary already
// built: process start, first GET .../next, invocation.
func BenchmarkInvoke_Cold(b *testing.B) {
	g := newTestGateway(b, nil)
	ctx := context.Background()
	if _, err := g.Invoke(ctx, "version", []byte(`{}`), InvokeOptions{}); err != nil {
		b.Fatal(err)
	}
	f := g.function("version")
	var d []time.Duration
	for b.Loop() {
		b.StopTimer()
		f.stopAll()
		b.StartTimer()
		start := time.Now()
		res, err := g.Invoke(ctx, "version", []byte(`{}`), InvokeOptions{})
		if err != nil || res.Err != nil {
			b.Fatal(err, res.Err)
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

// BenchmarkRebuild measures rebuild-to-ready after a one-line change, with
// a warm build cache: edit, rebuild, first answer from the new code.
func BenchmarkRebuild(b *testing.B) {
	g := newTestGateway(b, nil)
	ctx := context.Background()
	if _, err := g.Invoke(ctx, "version", []byte(`{}`), InvokeOptions{}); err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(g.root, "handlers", "version", "main.go")
	orig, _ := os.ReadFile(src)
	f := g.function("version")
	var d []time.Duration
	i := 0
	for b.Loop() {
		i++
		want := fmt.Sprintf("v%d", i+1)
		os.WriteFile(src, []byte(strings.Replace(string(orig), `"v1"`, `"`+want+`"`, 1)), 0o644)
		start := time.Now()
		f.changed()
		res, err := g.Invoke(ctx, "version", []byte(`{}`), InvokeOptions{})
		if err != nil || string(res.Payload) != `"`+want+`"` {
			b.Fatalf("%v %s", err, res.Payload)
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}
