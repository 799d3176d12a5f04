package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/amperity/lambda-runner-go/internal/bundle"
)

// packageCommand is `devserver package NAME`: the deployable zip and SAM
// template for a handler.
func packageCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devserver package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	arch := fs.String("arch", "arm64", "arm64 or amd64")
	out := fs.String("out", "build", "output directory")
	memory := fs.Int("memory", 512, "function memory in MB, for the template")
	root := fs.String("root", "", "module root (default: found from the working directory)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: devserver package NAME [--arch arm64|amd64] [--out DIR] [--memory MB]")
		fs.PrintDefaults()
	}
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fs.Usage()
		return errors.New("package: which handler? e.g. devserver package template")
	}
	if *root == "" {
		r, err := findModuleRoot(".")
		if err != nil {
			return err
		}
		*root = r
	}
	res, err := bundle.Build(ctx, bundle.Options{Root: *root, Handler: name, Arch: *arch, OutDir: *out, Memory: *memory})
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	rel := func(p string) string {
		if r, err := filepath.Rel(".", p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	fmt.Fprintf(stdout, "built %s: bootstrap for linux/%s, %.1f MB\n", rel(res.Zip), *arch, float64(res.Size)/(1<<20))
	fmt.Fprintf(stdout, "sha256 %s  %s\n", res.SHA256, rel(res.Zip))
	fmt.Fprintf(stdout, "wrote %s", rel(res.Template))
	if len(res.EnvVars) > 0 {
		fmt.Fprintf(stdout, " (environment: %s; fill in the values)", strings.Join(res.EnvVars, ", "))
	}
	fmt.Fprintf(stdout, "\n\nNext, either:\n")
	fmt.Fprintf(stdout, "  a) deploy with SAM:  sam deploy --guided -t %s\n", rel(res.Template))
	fmt.Fprintf(stdout, "     It creates the function, a REST API with POST /run behind an API key, the permission\n")
	fmt.Fprintf(stdout, "     to invoke itself, RecursiveLoop: Allow and no async retries (see README, Long jobs).\n")
	fmt.Fprintf(stdout, "  b) upload the zip:   Lambda console > Create function > runtime \"Amazon Linux 2023\" (provided.al2023),\n")
	fmt.Fprintf(stdout, "     architecture %s; Code > Upload from > .zip file > %s; Runtime settings > Handler: bootstrap;\n", *arch, rel(res.Zip))
	fmt.Fprintf(stdout, "     Configuration > General > Timeout: 15 min; set the environment variables; add lambda:InvokeFunction\n")
	fmt.Fprintf(stdout, "     on the function's own ARN to its role, and put API Gateway (POST, API key required) in front.\n")
	fmt.Fprintf(stdout, "Then in Amperity, in the Webhook destination: the URL is the Endpoint output (https://...execute-api...\n")
	fmt.Fprintf(stdout, "/prod/run) and the API key (x-api-key header) is printed by the ApiKeyValueCommand output.\n")
	return nil
}
