package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/amperity/lambda-runner-go/emulator/gateway"
	"gopkg.in/yaml.v3"
)

// copyTree copies the Go sources (and .env files) under from into to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(d.Name(), ".env")) {
			return nil
		}
		rel, _ := filepath.Rel(from, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Join(to, filepath.Dir(rel)), 0o755)
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// moduleCopy is a copy of this module with the template handler, so tests
// can add handlers and .env files without touching the repository.
func moduleCopy(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", ".env.example"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, f), data, 0o644)
	}
	copyTree(t, "../../runner", filepath.Join(root, "runner"))
	copyTree(t, "../../internal/jsonscan", filepath.Join(root, "internal", "jsonscan"))
	copyTree(t, "../../handlers/template", filepath.Join(root, "handlers", "template"))
	return root
}

func build(t *testing.T, root, arch string) *Result {
	t.Helper()
	res, err := Build(context.Background(), Options{Root: root, Handler: "template", Arch: arch, OutDir: filepath.Join(t.TempDir(), "build")})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// bootstrap returns the zip's only entry, checking it is one.
func bootstrap(t *testing.T, zipPath string) (*zip.File, []byte) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("zip entries: %v", zr.File)
	}
	f := zr.File[0]
	rc, _ := f.Open()
	data, _ := io.ReadAll(rc)
	rc.Close()
	return f, data
}

func TestBuild_ZipHoldsAStaticBootstrap(t *testing.T) {
	root := moduleCopy(t)
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		t.Run(arch, func(t *testing.T) {
			res := build(t, root, arch)
			f, data := bootstrap(t, res.Zip)
			if f.Mode() != 0o755 {
				t.Errorf("mode %v, want -rwxr-xr-x", f.Mode())
			}
			bin, err := elf.NewFile(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if bin.Machine != machine || bin.Type != elf.ET_EXEC {
				t.Errorf("ELF machine %v type %v, want %v executable", bin.Machine, bin.Type, machine)
			}
			for _, p := range bin.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("dynamically linked: program header %v", p.Type)
				}
			}
			if bin.Section(".symtab") != nil {
				t.Error("not stripped: .symtab present")
			}
		})
	}
}

func TestBuild_IsReproducible(t *testing.T) {
	// Two copies of the module in different directories: same bytes.
	a := build(t, moduleCopy(t), "arm64")
	b := build(t, moduleCopy(t), "arm64")
	if a.SHA256 != b.SHA256 {
		t.Fatalf("two builds differ: %s vs %s", a.SHA256, b.SHA256)
	}
}

func TestBuild_SAMTemplate(t *testing.T) {
	root := moduleCopy(t)
	os.WriteFile(filepath.Join(root, "handlers", "template", ".env"), []byte("MY_API_TOKEN=sup3r-s3cret-value\nLAMBDA_TIMEOUT=3000\nDESTINATION_URL=https://private.example.com/hook\n"), 0o600)
	res, err := Build(context.Background(), Options{Root: root, Handler: "template", Arch: "amd64", OutDir: filepath.Join(t.TempDir(), "b"), Memory: 1024})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(res.Template)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sup3r-s3cret-value", "private.example.com"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("template holds a value from .env: %s", secret)
		}
	}
	var tpl struct {
		Transform string `yaml:"Transform"`
		Resources map[string]struct {
			Type       string         `yaml:"Type"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
		Outputs map[string]any `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, raw)
	}
	fn := tpl.Resources["Function"]
	p := fn.Properties
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	checks := map[string]string{
		"Runtime": `"provided.al2023"`, "Handler": `"bootstrap"`, "Architectures": `["amd64"]`, "Timeout": `900`,
		"MemorySize": `1024`, "RecursiveLoop": `"Allow"`, "EventInvokeConfig": `{"MaximumRetryAttempts":0}`, "CodeUri": `"../template.zip"`,
	}
	if fn.Type != "AWS::Serverless::Function" || tpl.Transform != "AWS::Serverless-2016-10-31" {
		t.Fatalf("function %+v", fn)
	}
	for k, want := range checks {
		if got := js(p[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
	for _, name := range []string{"DESTINATION_URL", "DATA_KEY", "TENANT_ID", "MY_API_TOKEN"} {
		if v, ok := vars[name]; !ok || v != "" {
			t.Errorf("variable %s = %v (present %v), want empty", name, v, ok)
		}
	}
	if _, ok := vars["LAMBDA_TIMEOUT"]; ok {
		t.Error("devserver-only LAMBDA_TIMEOUT in the function's environment")
	}
	policy := js(p["Policies"])
	if !strings.Contains(policy, `"Action":"lambda:InvokeFunction"`) || !strings.Contains(policy, `function:${AWS::StackName}-template`) ||
		!strings.Contains(js(p["FunctionName"]), `${AWS::StackName}-template`) {
		t.Errorf("self-invoke policy %s for function %s", policy, js(p["FunctionName"]))
	}
	if ev := js(p["Events"]); !strings.Contains(ev, `"Path":"/run"`) || !strings.Contains(ev, `"Method":"post"`) || !strings.Contains(ev, `"ApiKeyRequired":true`) {
		t.Errorf("events %s", ev)
	}
	api := tpl.Resources["Api"]
	if api.Type != "AWS::Serverless::Api" || !strings.Contains(js(api.Properties["Auth"]), `"CreateUsagePlan":"PER_API"`) || !strings.Contains(js(api.Properties["Auth"]), `"ApiKeyRequired":true`) {
		t.Errorf("api %+v", api)
	}
	for _, out := range []string{"Endpoint", "ApiKeyId", "ApiKeyValueCommand"} {
		if _, ok := tpl.Outputs[out]; !ok {
			t.Errorf("output %s missing", out)
		}
	}
	if !strings.Contains(js(tpl.Outputs["Endpoint"]), "/prod/run") {
		t.Errorf("endpoint %s", js(tpl.Outputs["Endpoint"]))
	}
}

func TestBuild_ClearErrors(t *testing.T) {
	root := moduleCopy(t)
	write := func(name, src string) {
		os.MkdirAll(filepath.Join(root, "handlers", name), 0o755)
		os.WriteFile(filepath.Join(root, "handlers", name, "main.go"), []byte(src), 0o644)
	}
	write("broken", "package main\n\nfunc main() { undefinedThing() }\n")
	write("nostart", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n")
	write("library", "package library\n\nimport \"github.com/aws/aws-lambda-go/lambda\"\n\nfunc Run() { lambda.Start(func() {}) }\n")
	write("aliased", "package main\n\nimport awsl \"github.com/aws/aws-lambda-go/lambda\"\n\nfunc main() { awsl.Start(func() error { return nil }) }\n")
	tests := map[string]string{
		"nope":    `no handler "nope"`,
		"../x":    `is not a handler name`,
		"broken":  "handlers/broken/main.go:3:15: undefined: undefinedThing",
		"nostart": "does not call lambda.Start",
		"library": "is not a main package",
	}
	for name, want := range tests {
		_, err := Build(context.Background(), Options{Root: root, Handler: name, OutDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
	if _, err := Build(context.Background(), Options{Root: root, Handler: "aliased", OutDir: t.TempDir()}); err != nil {
		t.Errorf("aliased import of lambda rejected: %v", err)
	}
	if _, err := Build(context.Background(), Options{Root: root, Handler: "template", Arch: "386", OutDir: t.TempDir()}); err == nil {
		t.Error("arch 386 accepted")
	}
}

// TestPackagedBootstrapRunsAJob runs the zipped bootstrap, built for this
// machine, as a function under the devserver's gateway, on a real job.
func TestPackagedBootstrapRunsAJob(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skipf("a linux/%s bootstrap cannot run on %s/%s", runtime.GOARCH, runtime.GOOS, runtime.GOARCH)
	}
	root := moduleCopy(t)
	res := build(t, root, runtime.GOARCH)
	_, data := bootstrap(t, res.Zip)
	bin := filepath.Join(t.TempDir(), "bootstrap")
	os.WriteFile(bin, data, 0o755)

	file := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n"))
	}))
	var reports, records atomic.Int64
	status := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reports.Add(1) }))
	dest := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Data []any }
		json.NewDecoder(r.Body).Decode(&body)
		records.Add(int64(len(body.Data)))
	}))
	g, err := gateway.New(gateway.Config{Root: root, Binaries: map[string]string{"packaged": bin}, Output: io.Discard,
		Logger: slog.New(slog.DiscardHandler), Environ: append(os.Environ(), "DESTINATION_URL="+dest.URL, "TENANT_ID=t")})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	payload, _ := json.Marshal(map[string]string{"data_url": file.URL + "/f.ndjson", "callback_url": status.URL + "/", "webhook_id": "wh-zip"})
	out, err := g.Invoke(context.Background(), "packaged", payload, gateway.InvokeOptions{})
	if err != nil || out.Err != nil {
		t.Fatalf("%v %v\n%s", err, out.Err, out.Logs)
	}
	if !strings.Contains(string(out.Payload), `"statusCode":200`) || records.Load() != 3 || reports.Load() != 2 {
		t.Fatalf("response %s, %d records, %d reports", out.Payload, records.Load(), reports.Load())
	}
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
