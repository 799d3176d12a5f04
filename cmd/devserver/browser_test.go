package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium to drive. Without one the browser tests skip,
// unless CHROMIUM_REQUIRED is set (CI sets it, after installing one).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CHROMIUM_REQUIRED") != "" {
		t.Fatal("Chromium not found but CHROMIUM_REQUIRED is set: install it (apt-get install -y chromium) or set CHROMIUM=/path/to/chrome")
	}
	t.Skip("Chromium not installed: apt-get install -y chromium to run the browser tests")
	return ""
}

// browser starts headless Chromium, flagged for this machine's closed
// network.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestBrowser_WatchARunLive drives the web page in Chromium: a run started
// after the page loaded appears and reaches succeeded and 100% without a
// reload; its detail page shows a record's HTML as text and no token.
func TestBrowser_WatchARunLive(t *testing.T) {
	ctx := browser(t)
	cfg := testConfig(t)
	d := serveTest(t, cfg, io.Discard)
	gw, s3URL, destURL := d.service("gateway").url(), d.service("s3").url(), d.service("destination").url()
	// One record a request, each slowed, so the run is seen in progress.
	os.WriteFile(cfg.EnvFile, []byte(fmt.Sprintf("BATCH_SIZE=1\nDESTINATION_URL=%s/mock/destination?latency=150ms\n", destURL)), 0o600)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(destURL+"/"),
		chromedp.Evaluate[chromedp.Void](`window.__loadedOnce = 42; undefined`),
		chromedp.Poll[chromedp.Void](`document.getElementById("live-status").textContent === "live"`, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("open the page: %v", err)
	}

	go func() {
		body := requestJSON(s3URL+"/test-bucket/edge-cases.ndjson", destURL+"/mock/poll/", "wh-browser")
		resp, err := http.Post(gw+"/lambda/template", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}()

	row := `document.querySelector('tr[data-run="wh-browser"]')`
	if err := chromedp.Do(ctx,
		chromedp.Poll[chromedp.Void](`(() => { const r = `+row+`; return !!r && r.innerText.includes("running"); })()`, chromedp.WithPollingTimeout(60*time.Second)),
		chromedp.Poll[chromedp.Void](`(() => { const r = `+row+`; return !!r && r.innerText.includes("succeeded") && r.innerText.includes("100%"); })()`,
			chromedp.WithPollingTimeout(60*time.Second)),
	); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("run never shown succeeded: %v\n%s", err, html)
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__loadedOnce || 0`)); err != nil || same != 42 {
		t.Fatalf("the page was reloaded (marker %d, %v)", same, err)
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/runs/wh-browser"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="timeline"]`)),
	); err != nil {
		t.Fatalf("open the run: %v", err)
	}
	title, _ := chromedp.Run(ctx, chromedp.Title())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.textContent`))
	scripts, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	images, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if !strings.Contains(title, "wh-browser") || !strings.Contains(text, "succeeded") {
		t.Fatalf("detail page title %q", title)
	}
	if !strings.Contains(text, "<script>alert(1)</script><img src=x onerror=alert(2)>") {
		t.Errorf("the record's HTML is not shown as text")
	}
	if scripts != 1 || images != 0 {
		t.Errorf("the record's HTML became elements: %d scripts, %d images", scripts, images)
	}
	if strings.Contains(html, "local-token") {
		t.Errorf("the access token is on the page")
	}
}

// TestBrowser_Screenshot refreshes docs/screenshot.jpg (the README's
// picture of the page during a run) when UPDATE_SCREENSHOT is set.
func TestBrowser_Screenshot(t *testing.T) {
	if os.Getenv("UPDATE_SCREENSHOT") == "" {
		t.Skip("set UPDATE_SCREENSHOT=1 to refresh docs/screenshot.jpg")
	}
	ctx := browser(t)
	cfg := testConfig(t)
	d := serveTest(t, cfg, io.Discard)
	gw, s3URL, destURL := d.service("gateway").url(), d.service("s3").url(), d.service("destination").url()
	run := func(fixture, id string) {
		body := requestJSON(s3URL+"/test-bucket/"+fixture, destURL+"/mock/poll/", id)
		resp, err := http.Post(gw+"/lambda/template", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}
	// Handler processes read .env when they start: write it first.
	os.WriteFile(cfg.EnvFile, []byte(fmt.Sprintf("BATCH_SIZE=4\nDESTINATION_URL=%s/mock/destination?latency=500ms\n", destURL)), 0o600)
	run("edge-cases.ndjson", "wh-edge-cases")
	waitForRun(t, destURL, "wh-edge-cases")
	go run("sample.ndjson", "wh-sample-in-progress")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(destURL+"/"),
		chromedp.Poll[chromedp.Void](`(() => { const p = document.querySelector('tr[data-run="wh-sample-in-progress"] progress'); return !!p && p.value >= 40 && p.value < 90; })()`,
			chromedp.WithPollingTimeout(60*time.Second)),
	); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("../../docs", 0o755)
	if err := os.WriteFile("../../docs/screenshot.jpg", png, 0o644); err != nil {
		t.Fatal(err)
	}
}
