package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/amperity/lambda-runner-go/emulator/destination"
	"github.com/amperity/lambda-runner-go/emulator/gateway"
	"github.com/amperity/lambda-runner-go/emulator/s3"
	"github.com/amperity/lambda-runner-go/emulator/webui"
	"github.com/amperity/lambda-runner-go/runner"
	"github.com/go-chi/chi/v5"
)

// service is one HTTP service of the devserver.
type service struct {
	name string
	flag string // flag that sets its port
	env  string // environment variable that sets its port
	port int

	ln  net.Listener
	srv *http.Server
}

func (s *service) url() string { return "http://" + s.ln.Addr().String() }

// devserver is the set of running services.
type devserver struct {
	cfg         config
	log         *slog.Logger
	s3          *s3.Server
	destination *destination.Server
	gateway     *gateway.Gateway
	ui          *webui.Server
	services    []*service
}

// start binds every port, then builds the services that listen on them.
// Nothing is served until serve is called, so a port clash is reported
// before anything starts. out receives handler output.
func start(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) (*devserver, error) {
	d := &devserver{cfg: cfg, log: log}
	d.services = []*service{
		{name: "gateway", flag: "--gateway-port", env: "GATEWAY_PORT", port: cfg.GatewayPort},
		{name: "s3", flag: "--s3-port", env: "S3_PORT", port: cfg.S3Port},
		{name: "destination", flag: "--destination-port", env: "DESTINATION_PORT", port: cfg.DestinationPort},
	}
	for _, s := range d.services {
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Addr, fmt.Sprint(s.port)))
		if err != nil {
			d.close()
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("port %d (%s) is already in use: pick another with %s or %s", s.port, s.name, s.flag, s.env)
			}
			return nil, fmt.Errorf("%s: listen on %s:%d: %w", s.name, cfg.Addr, s.port, err)
		}
		s.ln = ln
	}

	// The web page is built last, from the services; they notify it
	// through this pointer once it exists.
	var page atomic.Pointer[webui.Server]
	notify := func(kind, id string) {
		if p := page.Load(); p != nil {
			p.Notify(kind, id)
		}
	}
	store, err := s3.New(s3.Config{Bucket: cfg.Bucket, FixturesDir: cfg.FixturesDir, Logger: log.With("service", "s3"),
		OnChange: func() { notify("s3", "") }})
	if err != nil {
		d.close()
		return nil, err
	}
	if err := store.Watch(ctx); err != nil {
		d.close()
		return nil, err
	}
	d.s3 = store
	d.destination = destination.New(destination.Config{Logger: log.With("service", "destination"),
		OnChange: func(kind, id string) { notify(kind+"s", id) }})
	gw, err := gateway.New(gateway.Config{
		Root: cfg.Root, EnvFile: cfg.EnvFile, Output: out, Logger: log.With("service", "gateway"),
		URL: d.service("gateway").url(), S3URL: d.service("s3").url(),
		Environ: handlerEnviron(os.Environ(), d.service("destination").url()),
		OnChange: func(kind, name string) {
			notify(map[string]string{"invocation": "invocations", "build": "build"}[kind], name)
		},
	})
	if err != nil {
		d.close()
		return nil, err
	}
	if err := gw.Watch(ctx); err != nil {
		gw.Close()
		d.close()
		return nil, err
	}
	d.gateway = gw

	ui, err := webui.New(webui.Sources{Destination: d.destination, Gateway: gw, S3: store,
		GatewayURL: d.service("gateway").url(), S3URL: d.service("s3").url(), DestinationURL: d.service("destination").url()})
	if err != nil {
		gw.Close()
		d.close()
		return nil, err
	}
	page.Store(ui)
	d.ui = ui
	// The destination port serves the web page at its own paths and the
	// mock routes and inspection API everywhere else.
	front := chi.NewRouter()
	for _, route := range ui.Routes() {
		front.Handle(route, ui)
	}
	front.NotFound(d.destination.ServeHTTP)
	front.MethodNotAllowed(d.destination.ServeHTTP)

	handlers := map[string]http.Handler{"gateway": gw, "s3": store, "destination": front}
	for _, s := range d.services {
		s.srv = &http.Server{Handler: handlers[s.name], ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}
	return d, nil
}

// handlerEnviron is the environment handler processes start from: the
// devserver's, plus defaults that make the template and rudderstack
// handlers work out of the box against the mocks. .env files override
// both.
func handlerEnviron(environ []string, destinationURL string) []string {
	env := append([]string(nil), environ...)
	defaults := []string{
		"DESTINATION_URL=" + destinationURL + "/mock/destination",
		"RUDDERSTACK_URL=" + destinationURL + "/mock/rudderstack",
		"RUDDERSTACK_WRITE_KEY=local-write-key",
		"TENANT_ID=local",
	}
	for _, kv := range defaults {
		name, _, _ := strings.Cut(kv, "=")
		if !hasVar(env, name) {
			env = append(env, kv)
		}
	}
	return env
}

func hasVar(environ []string, name string) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// close releases the listeners of services not yet serving.
func (d *devserver) close() {
	for _, s := range d.services {
		if s.ln != nil {
			s.ln.Close()
		}
	}
}

// serve runs every service until ctx is done, then shuts them down
// gracefully and stops the handler processes.
func (d *devserver) serve(ctx context.Context) error {
	errc := make(chan error, len(d.services))
	for _, s := range d.services {
		go func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", s.name, err)
			}
		}()
	}
	d.gateway.Prebuild()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	for _, s := range d.services {
		if serr := s.srv.Shutdown(shutdownCtx); serr != nil {
			s.srv.Close()
		}
	}
	d.gateway.Close()
	return err
}

func (d *devserver) service(name string) *service {
	for _, s := range d.services {
		if s.name == name {
			return s
		}
	}
	return nil
}

// printReady writes one line per service and commands to try.
func (d *devserver) printReady(w io.Writer) {
	gw, s3svc, dest := d.service("gateway"), d.service("s3"), d.service("destination")
	objs, _ := d.s3.Objects()
	fixture := "sample.ndjson"
	if len(objs) > 0 && !hasKey(objs, fixture) {
		fixture = objs[0].Key
	}
	fmt.Fprintf(w, "gateway      %s  handlers: %s (POST /lambda/{name}, Lambda Invoke API)\n", gw.url(), strings.Join(d.gateway.Handlers(), ", "))
	fmt.Fprintf(w, "s3           %s  bucket %s, %d objects from %s\n", s3svc.url(), d.cfg.Bucket, len(objs), d.cfg.FixturesDir)
	fmt.Fprintf(w, "destination  %s  mock Amperity at /mock/poll/{webhook_id}, records at /mock/destination, runs at /api/runs\n", dest.url())
	fmt.Fprintf(w, "web page     %s/  watch runs, requests and invocations live\n", dest.url())
	fmt.Fprintf(w, "\nready. Run the template handler on %s:\n", fixture)
	fmt.Fprintf(w, "  curl -X POST %s/lambda/template -H 'Content-Type: application/json' \\\n    -d '%s'\n",
		gw.url(), requestJSON(s3svc.url()+"/"+d.cfg.Bucket+"/"+fixture, dest.url()+"/mock/poll/", "wh-local-1"))
	fmt.Fprintf(w, "then see the run: curl %s/api/runs\n", dest.url())
}

// requestJSON is an Amperity webhook request body for local use.
func requestJSON(dataURL, callbackURL, webhookID string) string {
	return fmt.Sprintf(`{"data_url": %q, "callback_url": %q, "webhook_id": %q, "access_token": "local-token", "settings": {}, "label_name": "local test"}`,
		dataURL, callbackURL, webhookID)
}

func hasKey(objs []s3.Object, key string) bool {
	for _, o := range objs {
		if o.Key == key {
			return true
		}
	}
	return false
}

// serveCommand is `devserver serve`.
func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("devserver", args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: runner.ParseLevel(cfg.LogLevel)}))
	if cfg.envFound {
		names := make([]string, 0, len(cfg.envVars))
		for _, v := range cfg.envVars {
			names = append(names, v.Key)
		}
		fmt.Fprintf(stdout, "read %s (%d variables: %s)\n", cfg.EnvFile, len(names), strings.Join(names, ", "))
	}
	d, err := start(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	d.printReady(stdout)
	err = d.serve(ctx)
	fmt.Fprintln(stdout, "stopped")
	return err
}
