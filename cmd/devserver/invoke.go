package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/amperity/lambda-runner-go/emulator/destination"
)

// invokeCommand is `devserver invoke NAME`: it builds the Amperity request
// for a fixture, runs the handler through a devserver (the running one,
// or one started in-process), and shows the run as it happens.
func invokeCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devserver invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fixture := fs.String("fixture", "sample.ndjson", "fixture (object key in the bucket) to send")
	eventFile := fs.String("event", "", "JSON file sent as the request body instead of one built for --fixture")
	webhookID := fs.String("webhook-id", "", "webhook id of the run (default: generated)")
	inProcess := fs.Bool("in-process", false, "always start a devserver in this process, even if one is running")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: devserver invoke NAME [--fixture KEY | --event FILE] [serve flags]")
		fs.PrintDefaults()
	}
	// NAME may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	// The serve flags (ports, root...) are accepted too: split them off.
	var serveArgs, ownArgs []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		key, _, hasValue := strings.Cut(a, "=")
		switch key {
		case "fixture", "event", "webhook-id", "in-process", "h", "help":
			ownArgs = append(ownArgs, args[i])
			if !hasValue && key != "in-process" && key != "h" && key != "help" && i+1 < len(args) {
				i++
				ownArgs = append(ownArgs, args[i])
			}
		default:
			serveArgs = append(serveArgs, args[i])
			if !hasValue && strings.HasPrefix(args[i], "-") && i+1 < len(args) {
				i++
				serveArgs = append(serveArgs, args[i])
			}
		}
	}
	if err := fs.Parse(ownArgs); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fs.Usage()
		return errors.New("invoke: which handler? e.g. devserver invoke template")
	}
	cfg, err := parseConfig("devserver invoke", serveArgs, os.Getenv, stderr)
	if err != nil {
		return err
	}

	gatewayURL := fmt.Sprintf("http://%s:%d", cfg.Addr, cfg.GatewayPort)
	s3URL := fmt.Sprintf("http://%s:%d", cfg.Addr, cfg.S3Port)
	destURL := fmt.Sprintf("http://%s:%d", cfg.Addr, cfg.DestinationPort)
	if *inProcess || !healthy(ctx, gatewayURL) || !healthy(ctx, destURL) {
		// Start one here, on free ports so nothing clashes.
		cfg.GatewayPort, cfg.S3Port, cfg.DestinationPort = 0, 0, 0
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		srvCtx, stop := context.WithCancel(ctx)
		d, err := start(srvCtx, cfg, log, stderr)
		if err != nil {
			stop()
			return err
		}
		served := make(chan error, 1)
		go func() { served <- d.serve(srvCtx) }()
		defer func() { stop(); <-served }()
		gatewayURL, s3URL, destURL = d.service("gateway").url(), d.service("s3").url(), d.service("destination").url()
		fmt.Fprintf(stdout, "no devserver running: started one in this process\n")
	}

	var body []byte
	id := *webhookID
	if *eventFile != "" {
		body, err = os.ReadFile(*eventFile)
		if err != nil {
			return fmt.Errorf("invoke: %w", err)
		}
		var probe struct {
			WebhookID string `json:"webhook_id"`
		}
		json.Unmarshal(body, &probe)
		id = probe.WebhookID
	} else {
		if id == "" {
			id = fmt.Sprintf("wh-invoke-%d", time.Now().UnixMilli())
		}
		body = []byte(requestJSON(s3URL+"/"+cfg.Bucket+"/"+*fixture, destURL+"/mock/poll/", id))
	}
	before := destinationRecords(ctx, destURL)
	fmt.Fprintf(stdout, "POST %s/lambda/%s (webhook %s)\n", gatewayURL, name, id)

	type answer struct {
		code int
		body []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gatewayURL+"/lambda/"+name, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- answer{code: resp.StatusCode, body: b}
	}()

	tl := &timeline{w: stdout, tty: isTerminal(stdout)}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var got answer
wait:
	for {
		select {
		case got = <-done:
			break wait
		case <-tick.C:
			tl.update(ctx, destURL, id)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tl.update(ctx, destURL, id)
	if got.err != nil {
		tl.finish()
		return fmt.Errorf("invoke: %w", got.err)
	}
	if got.code == http.StatusAccepted {
		// The front door answered at once; the job runs in the background
		// (across invocations if it must): follow it to its end.
		tl.finish()
		fmt.Fprintf(stdout, "accepted (202): following the job in the background\n")
		for tl.state != "succeeded" && tl.state != "failed" {
			select {
			case <-tick.C:
				tl.update(ctx, destURL, id)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	tl.finish()
	fmt.Fprintf(stdout, "\nresponse %d:\n%s\n", got.code, prettyJSON(got.body))
	after := destinationRecords(ctx, destURL)
	fmt.Fprintf(stdout, "\nthe mock destination received %d records in %d requests\n", after.Records-before.Records, after.Requests-before.Requests)
	if tl.state != "succeeded" || got.code/100 != 2 {
		return fmt.Errorf("invoke: the run did not succeed (response %d, state %q)", got.code, tl.state)
	}
	return nil
}

// timeline prints a run's status reports as they arrive.
type timeline struct {
	w     io.Writer
	tty   bool
	shown int
	state string
	bar   bool // a progress bar is on the current line
}

func (t *timeline) update(ctx context.Context, destURL, id string) {
	var run destination.Run
	if err := fetchJSON(ctx, destURL+"/api/runs/"+id, &run); err != nil {
		return
	}
	t.state = run.State
	for _, e := range run.Timeline {
		if e.N <= t.shown {
			continue
		}
		t.clearBar()
		line := fmt.Sprintf("  %s  %-9s %5.1f%%", e.Time.Format("15:04:05.000"), e.State, e.Progress*100)
		if e.Reason != "" {
			line += "  " + e.Reason
		}
		fmt.Fprintln(t.w, line)
		for _, msg := range e.Errors {
			fmt.Fprintln(t.w, "      error: "+msg)
		}
		for _, v := range e.Violations {
			fmt.Fprintln(t.w, "      CONTRACT VIOLATION: "+v)
		}
		t.shown = e.N
	}
	if t.tty && run.State == "running" {
		const width = 30
		filled := int(run.Progress * width)
		fmt.Fprintf(t.w, "\r  [%s%s] %5.1f%%", strings.Repeat("#", filled), strings.Repeat(".", width-filled), run.Progress*100)
		t.bar = true
	}
}

func (t *timeline) clearBar() {
	if t.bar {
		fmt.Fprint(t.w, "\r\033[K")
		t.bar = false
	}
}

func (t *timeline) finish() { t.clearBar() }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func healthy(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func fetchJSON(ctx context.Context, url string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func destinationRecords(ctx context.Context, destURL string) destination.Counter {
	var out struct {
		Counters map[string]destination.Counter `json:"counters"`
	}
	fetchJSON(ctx, destURL+"/api/requests", &out)
	var sum destination.Counter
	for route, c := range out.Counters {
		if strings.HasPrefix(route, "/mock/poll") || strings.HasPrefix(route, "/mock/error") {
			continue
		}
		sum.Requests += c.Requests
		sum.Records += c.Records
		sum.Bytes += c.Bytes
	}
	return sum
}

// prettyJSON indents a proxy response, unwrapping a JSON body.
func prettyJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}
