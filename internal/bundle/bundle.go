// Package bundle turns a handler into what AWS Lambda runs: a zip holding
// one static linux binary named bootstrap (runtime provided.al2023), built
// reproducibly, and a SAM template with what the runner's long jobs need
// (permission to invoke itself, recursion allowed, no async retries).
package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Options says what to build.
type Options struct {
	Root    string // module root holding go.mod and handlers/
	Handler string // name of the directory under handlers/
	Arch    string // arm64 (default) or amd64
	OutDir  string // default Root/build
	Memory  int    // MB; default 512
}

// Result is what Build wrote.
type Result struct {
	Zip      string // path of NAME.zip
	SHA256   string // of the zip
	Size     int64  // of the zip
	Template string // path of NAME/template.yaml
	EnvVars  []string
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// zipTime is the timestamp of every zip entry: fixed, so two builds of the
// same code give the same bytes.
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Build checks the handler, compiles it for Lambda, zips it and writes
// the SAM template.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Arch == "" {
		opts.Arch = "arm64"
	}
	if opts.Arch != "arm64" && opts.Arch != "amd64" {
		return nil, fmt.Errorf("--arch %s: Lambda runs arm64 or amd64", opts.Arch)
	}
	if opts.Memory <= 0 {
		opts.Memory = 512
	}
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join(opts.Root, "build")
	}
	dir := filepath.Join(opts.Root, "handlers", opts.Handler)
	callsStart, err := checkHandler(opts.Root, opts.Handler)
	if err != nil {
		return nil, err
	}

	tmp, err := os.MkdirTemp("", "bundle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bootstrap")
	if err := compile(ctx, opts, bin); err != nil {
		return nil, err
	}
	if !callsStart {
		return nil, fmt.Errorf("handlers/%s does not call lambda.Start (github.com/aws/aws-lambda-go/lambda): the binary would not talk to Lambda's Runtime API", opts.Handler)
	}
	if err := os.MkdirAll(filepath.Join(opts.OutDir, opts.Handler), 0o755); err != nil {
		return nil, err
	}
	res := &Result{Zip: filepath.Join(opts.OutDir, opts.Handler+".zip"), Template: filepath.Join(opts.OutDir, opts.Handler, "template.yaml")}
	data, err := zipBootstrap(bin)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.Zip, data, 0o644); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	res.SHA256, res.Size = hex.EncodeToString(sum[:]), int64(len(data))

	vars, examples, err := envNames(opts.Root, dir)
	if err != nil {
		return nil, err
	}
	res.EnvVars = vars
	tpl := samTemplate(opts, vars, examples)
	if err := os.WriteFile(res.Template, []byte(tpl), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

// checkHandler makes sure handlers/NAME is a main package, and reports
// whether it calls lambda.Start (judged after compiling, so a handler that
// does not compile gets the compiler's message first).
func checkHandler(root, name string) (bool, error) {
	known := func() string {
		entries, _ := os.ReadDir(filepath.Join(root, "handlers"))
		var names []string
		for _, e := range entries {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
		return strings.Join(names, ", ")
	}
	if !namePattern.MatchString(name) {
		return false, fmt.Errorf("%q is not a handler name (letters, digits, - and _); handlers: %s", name, known())
	}
	dir := filepath.Join(root, "handlers", name)
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var sources []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			sources = append(sources, f)
		}
	}
	if len(sources) == 0 {
		return false, fmt.Errorf("no handler %q: handlers/%s has no Go files (handlers: %s)", name, name, known())
	}
	fset := token.NewFileSet()
	isMain, starts := false, false
	for _, path := range sources {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return false, fmt.Errorf("handlers/%s does not compile:\n%v", name, err)
		}
		if f.Name.Name == "main" {
			isMain = true
		}
		local := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/aws/aws-lambda-go/lambda" {
				local = "lambda"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && strings.HasPrefix(sel.Sel.Name, "Start") {
						starts = true
					}
				}
			}
			return !starts
		})
	}
	if !isMain {
		return false, fmt.Errorf("handlers/%s is not a main package: a Lambda handler is a command (package main) that calls lambda.Start", name)
	}
	return starts, nil
}

// compile builds the handler as Lambda runs it: linux, static, no RPC
// shim, paths trimmed and symbols stripped.
func compile(ctx context.Context, opts Options, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid=", "-o", out, "./handlers/"+opts.Handler)
	cmd.Dir = opts.Root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+opts.Arch, "CGO_ENABLED=0")
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("handlers/%s does not compile:\n%s", opts.Handler, strings.TrimSpace(string(output)))
	}
	return nil
}

// zipBootstrap makes the deployment package: one entry, bootstrap, mode
// 0755, with a fixed timestamp.
func zipBootstrap(bin string) ([]byte, error) {
	f, err := os.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// devOnly are variables the devserver reads or Lambda sets itself; they do
// not belong in the function's configuration.
var devOnly = map[string]bool{
	"LAMBDA_TIMEOUT": true, "LAMBDA_RECURSIVE_LOOP": true, "GATEWAY_PORT": true, "S3_PORT": true,
	"DESTINATION_PORT": true, "FIXTURES_DIR": true, "ENV_FILE": true, "S3_BUCKET": true,
	"DEVSERVER_ADDR": true, "DEVSERVER_ROOT": true, "_HANDLER": true,
}

// envNames lists the variables the function needs, from the handler's
// .env and the .env.example files. Only names leave this function, and the
// example values of .env.example files (committed, so not secrets) for
// comments; a .env value is never read out.
func envNames(root, dir string) ([]string, map[string]string, error) {
	seen := map[string]bool{}
	var names []string
	examples := map[string]string{}
	add := func(path string, keepExamples bool) error {
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			key, value, ok := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			if !ok || key == "" || devOnly[key] || strings.HasPrefix(key, "AWS_") {
				continue
			}
			if !seen[key] {
				seen[key] = true
				names = append(names, key)
			}
			if keepExamples && !isSecretName(key) {
				if v := strings.Trim(strings.TrimSpace(value), `"'`); v != "" {
					examples[key] = v
				}
			}
		}
		return nil
	}
	for _, p := range []struct {
		path     string
		examples bool
	}{
		{filepath.Join(root, ".env.example"), true},
		{filepath.Join(dir, ".env.example"), true},
		{filepath.Join(dir, ".env"), false},
	} {
		if err := add(p.path, p.examples); err != nil {
			return nil, nil, err
		}
	}
	return names, examples, nil
}

func isSecretName(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"token", "secret", "password", "key", "credential", "auth"} {
		if strings.Contains(k, s) && k != "data_key" {
			return true
		}
	}
	return false
}
