package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/amperity/lambda-runner-go/emulator/dotenv"
)

// config is the devserver's configuration. Each setting is a flag with an
// environment variable equivalent; a flag wins over the environment, which
// wins over the .env file, which wins over the default.
type config struct {
	Addr            string
	GatewayPort     int
	S3Port          int
	DestinationPort int
	Root            string
	FixturesDir     string
	EnvFile         string
	Bucket          string
	LogLevel        string

	envVars  []dotenv.Var // what the .env file set
	envFound bool
}

// setting describes one flag and its environment variable.
type setting struct {
	flag, env, usage string
	str              *string
	num              *int
}

func (c *config) settings() []setting {
	return []setting{
		{"addr", "DEVSERVER_ADDR", "address every service binds to", &c.Addr, nil},
		{"gateway-port", "GATEWAY_PORT", "port of the Lambda gateway", nil, &c.GatewayPort},
		{"s3-port", "S3_PORT", "port of the in-memory S3", nil, &c.S3Port},
		{"destination-port", "DESTINATION_PORT", "port of the mock Amperity and mock destinations", nil, &c.DestinationPort},
		{"fixtures", "FIXTURES_DIR", "directory of *.ndjson files served from S3", &c.FixturesDir, nil},
		{"env-file", "ENV_FILE", ".env file read at start", &c.EnvFile, nil},
		{"bucket", "S3_BUCKET", "bucket the fixtures are served from", &c.Bucket, nil},
		{"log-level", "LOG_LEVEL", "debug, info, warn or error", &c.LogLevel, nil},
		{"root", "DEVSERVER_ROOT", "module root holding go.mod and handlers/ (default: found from the working directory)", &c.Root, nil},
	}
}

func defaultConfig() config {
	return config{Addr: "127.0.0.1", GatewayPort: 5555, S3Port: 4566, DestinationPort: 5005, FixturesDir: "fixtures", EnvFile: ".env", Bucket: "test-bucket", LogLevel: "info"}
}

// parseConfig reads flags, the environment (getenv) and the .env file.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := cfg.settings()
	for _, s := range set {
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		if s.str != nil {
			fs.StringVar(s.str, s.flag, *s.str, usage)
		} else {
			fs.IntVar(s.num, s.flag, *s.num, usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	// The env file's own location comes from the flag or the environment.
	if !explicit["env-file"] && getenv("ENV_FILE") != "" {
		cfg.EnvFile = getenv("ENV_FILE")
	}
	vars, found, err := dotenv.Load(cfg.EnvFile)
	if err != nil {
		return cfg, err
	}
	cfg.envVars, cfg.envFound = vars, found
	fromFile := dotenv.Map(vars)

	for _, s := range set {
		if explicit[s.flag] || s.flag == "env-file" {
			continue
		}
		v := getenv(s.env)
		if v == "" {
			v = fromFile[s.env]
		}
		if v == "" {
			continue
		}
		if s.str != nil {
			*s.str = v
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, fmt.Errorf("%s=%q is not a number", s.env, v)
		}
		*s.num = n
	}
	for _, p := range []struct {
		name string
		port int
	}{{"gateway-port", cfg.GatewayPort}, {"s3-port", cfg.S3Port}, {"destination-port", cfg.DestinationPort}} {
		if p.port < 0 || p.port > 65535 {
			return cfg, fmt.Errorf("--%s %d is not a port", p.name, p.port)
		}
	}
	if cfg.Root == "" {
		root, err := findModuleRoot(".")
		if err != nil {
			return cfg, err
		}
		cfg.Root = root
	}
	return cfg, nil
}

// findModuleRoot walks up from dir to the directory holding go.mod.
func findModuleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above: run the devserver from your handler repository, or set --root", abs)
		}
	}
}
