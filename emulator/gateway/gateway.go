// Package gateway runs handlers the way AWS Lambda does: each handler is
// built from handlers/<name> and run as its own process, fed events
// through the real Lambda Runtime API, one invocation per process at a
// time, killed at its deadline, rebuilt when its code changes. In front of
// the processes it offers an API Gateway proxy (POST /lambda/{name}) and
// the Lambda Invoke API, so curl, the AWS CLI and the AWS SDKs can all
// invoke them.
package gateway

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/amperity/lambda-runner-go/emulator/dotenv"
)

// Config configures a Gateway. Zero values mean the defaults given.
type Config struct {
	// Root is the module root: it holds go.mod and handlers/. Required.
	Root string
	// CacheDir receives the built binaries; default a new temporary
	// directory removed by Close.
	CacheDir string
	// MaxConcurrency is the most invocations of one function at once;
	// more wait. Default 10.
	MaxConcurrency int
	// IdleTimeout stops processes unused for this long; default 5 minutes.
	IdleTimeout time.Duration
	// DefaultTimeout is a function's timeout when LAMBDA_TIMEOUT does not
	// set one; default 900 s, Lambda's maximum.
	DefaultTimeout time.Duration
	// EnvFile is the repository's .env, read at each process start;
	// default Root/.env.
	EnvFile string
	// URL is the gateway's own address, given to handlers as
	// AWS_ENDPOINT_URL_LAMBDA; S3URL is given as AWS_ENDPOINT_URL_S3.
	URL, S3URL string
	// Environ is the environment handler processes start from; default
	// os.Environ().
	Environ []string
	// Output receives handler output and START/END/REPORT lines; default
	// os.Stderr.
	Output io.Writer
	// Logger receives the gateway's own logs; default slog.Default().
	Logger *slog.Logger
	// MaxInvocations is how many finished invocations are kept for
	// inspection; default 200.
	MaxInvocations int
	// OnChange, when set, is called with "invocation" after an invocation
	// ends and "build" when a handler's build state changes. It must not
	// block.
	OnChange func(kind, name string)
	// Binaries runs prebuilt binaries (a packaged bootstrap, say) as
	// functions, by name, instead of building handlers/<name>.
	Binaries map[string]string
}

// Gateway hosts the functions.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	ownsDir bool
	history *history

	outMu sync.Mutex

	mu          sync.Mutex
	functions   map[string]*function
	buildErrors map[string]*BuildError

	routes http.Handler
	builds chan struct{} // one token per build running

	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup // asynchronous invocations and the reaper
}

// namePattern is what a handler name may look like; anything else is
// rejected before it reaches the file system.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// New checks cfg and returns a Gateway. Call Close to stop its processes.
func New(cfg Config) (*Gateway, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("gateway: Config.Root is required")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	cfg.Root = root
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("gateway: %s is not a Go module root (no go.mod)", root)
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 10
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 900 * time.Second
	}
	if cfg.EnvFile == "" {
		cfg.EnvFile = filepath.Join(root, ".env")
	}
	if cfg.Environ == nil {
		cfg.Environ = os.Environ()
	}
	if cfg.Output == nil {
		cfg.Output = os.Stderr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxInvocations <= 0 {
		cfg.MaxInvocations = 200
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, history: &history{max: cfg.MaxInvocations},
		functions: map[string]*function{}, buildErrors: map[string]*BuildError{}}
	if g.cfg.CacheDir == "" {
		dir, err := os.MkdirTemp("", "devserver-handlers-")
		if err != nil {
			return nil, fmt.Errorf("gateway: cache dir: %w", err)
		}
		g.cfg.CacheDir, g.ownsDir = dir, true
	} else if err := os.MkdirAll(g.cfg.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("gateway: cache dir: %w", err)
	}
	g.routes = g.newRouter()
	g.builds = make(chan struct{}, 1)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.bg.Add(1)
	go g.reap()
	return g, nil
}

// Close stops every handler process and removes the build cache it made.
func (g *Gateway) Close() error {
	g.cancel()
	g.bg.Wait()
	g.mu.Lock()
	fns := make([]*function, 0, len(g.functions))
	for _, f := range g.functions {
		fns = append(fns, f)
	}
	g.mu.Unlock()
	for _, f := range fns {
		f.stopAll()
	}
	if g.ownsDir {
		os.RemoveAll(g.cfg.CacheDir)
	}
	return nil
}

// reap stops idle processes now and then.
func (g *Gateway) reap() {
	defer g.bg.Done()
	t := time.NewTicker(min(g.cfg.IdleTimeout/2, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case now := <-t.C:
			g.mu.Lock()
			for _, f := range g.functions {
				go f.reapIdle(now)
			}
			g.mu.Unlock()
		}
	}
}

// Handlers lists the handler directories: each directory under handlers/
// holding Go files.
func (g *Gateway) Handlers() []string {
	entries, err := os.ReadDir(filepath.Join(g.cfg.Root, "handlers"))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && namePattern.MatchString(e.Name()) && hasGoFiles(filepath.Join(g.cfg.Root, "handlers", e.Name())) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

func hasGoFiles(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			return true
		}
	}
	return false
}

// function returns the named function, or nil when there is no such
// handler. Names are checked before any file system access.
func (g *Gateway) function(name string) *function {
	if !namePattern.MatchString(name) {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.functions[name]; ok {
		return f
	}
	if _, prebuilt := g.cfg.Binaries[name]; !prebuilt && !hasGoFiles(filepath.Join(g.cfg.Root, "handlers", name)) {
		return nil
	}
	f := newFunction(g, name)
	g.functions[name] = f
	return f
}

// Prebuild builds every handler in the background, so the first request
// does not wait for the compiler; the template, which the devserver's
// printed curl runs, goes first.
func (g *Gateway) Prebuild() {
	names := g.Handlers()
	sort.SliceStable(names, func(i, j int) bool { return names[i] == "template" && names[j] != "template" })
	for _, name := range names {
		if f := g.function(name); f != nil {
			g.bg.Add(1)
			go func() {
				defer g.bg.Done()
				f.ensureBuilt(g.ctx, true)
			}()
		}
	}
}

// terminal writes one line to the output, whole.
func (g *Gateway) terminal(line string) {
	g.outMu.Lock()
	defer g.outMu.Unlock()
	fmt.Fprintln(g.cfg.Output, line)
}

func (g *Gateway) setBuildError(name string, err *BuildError) {
	g.mu.Lock()
	_, had := g.buildErrors[name]
	if err == nil {
		delete(g.buildErrors, name)
	} else {
		g.buildErrors[name] = err
	}
	g.mu.Unlock()
	if had != (err != nil) || err != nil {
		g.changed("build", name)
	}
}

func (g *Gateway) changed(kind, name string) {
	if g.cfg.OnChange != nil {
		g.cfg.OnChange(kind, name)
	}
}

// BuildErrors returns the handlers whose last build failed.
func (g *Gateway) BuildErrors() []*BuildError {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*BuildError, 0, len(g.buildErrors))
	for _, e := range g.buildErrors {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out
}

// Invocations returns the most recent invocations, newest first.
func (g *Gateway) Invocations() []Invocation { return g.history.recent() }

// fileEnv merges the repository's .env and the handler's .env (which
// wins) over the devserver's environment. A malformed file is skipped
// here; starting a process reports it.
func (g *Gateway) fileEnv(name string) map[string]string {
	env, _ := g.mergedEnv(name)
	return env
}

// mergedEnv is fileEnv, failing on the first malformed .env file.
func (g *Gateway) mergedEnv(name string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range g.cfg.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var firstErr error
	for _, path := range []string{g.cfg.EnvFile, filepath.Join(g.cfg.Root, "handlers", name, ".env")} {
		vars, _, err := dotenv.Load(path)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		for _, v := range vars {
			env[v.Key] = v.Value
		}
	}
	return env, firstErr
}

func (g *Gateway) region() string {
	for _, kv := range g.cfg.Environ {
		if v, ok := strings.CutPrefix(kv, "AWS_REGION="); ok && v != "" {
			return v
		}
	}
	return "us-east-1"
}

// environment builds a handler process's environment: the devserver's,
// then .env, then handlers/<name>/.env, then what Lambda sets.
func (g *Gateway) environment(name, runtimeAPI, instanceID string) ([]string, error) {
	env, err := g.mergedEnv(name)
	if err != nil {
		return nil, err
	}
	f := g.function(name)
	timeout := g.cfg.DefaultTimeout
	if f != nil {
		timeout = f.timeout()
	}
	region := env["AWS_REGION"]
	if region == "" {
		region = "us-east-1"
	}
	lambdaVars := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().Format("2006/01/02") + "/[$LATEST]" + instanceID,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     fmt.Sprint(int(timeout.Seconds())),
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                g.cfg.Root,
	}
	if g.cfg.URL != "" {
		lambdaVars["AWS_ENDPOINT_URL_LAMBDA"] = g.cfg.URL
	}
	if g.cfg.S3URL != "" {
		lambdaVars["AWS_ENDPOINT_URL_S3"] = g.cfg.S3URL
	}
	for k, v := range lambdaVars {
		env[k] = v
	}
	if env["AWS_ACCESS_KEY_ID"] == "" && env["AWS_PROFILE"] == "" {
		// SDK clients refuse to sign without credentials; the devserver
		// ignores signatures.
		env["AWS_ACCESS_KEY_ID"] = "devserver"
		env["AWS_SECRET_ACCESS_KEY"] = "devserver"
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// goTool is the go command: from PATH, else the one this binary was built
// with.
func (g *Gateway) goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// newID returns a random request id in Lambda's UUID shape.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
