// Command devserver runs, in one process, everything around a handler that
// the Python original needed three Docker containers for: a Lambda gateway
// running handlers/<name> as real Lambda processes with hot reload, an
// in-memory S3 seeded from fixtures/, and a mock Amperity status callback
// plus mock destination APIs with an inspection API.
//
//	go run ./cmd/devserver                  # serve (the default command)
//	go run ./cmd/devserver invoke template  # run a handler on a fixture and watch the run
//	go run ./cmd/devserver package template # build/template.zip and a SAM template
//	go run ./cmd/devserver -h               # flags and their environment variables
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "devserver:", err)
		}
		os.Exit(1)
	}
}

// run dispatches to a subcommand; "serve" is the default.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCommand(ctx, args, stdout, stderr)
	case "invoke":
		return invokeCommand(ctx, args, stdout, stderr)
	case "package":
		return packageCommand(ctx, args, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (commands: serve, invoke, package)", cmd)
	}
}
