package runner

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads a handler's configuration from environment variables and
// collects every problem, so one start-up error names all that is missing
// or malformed instead of one at a time.
//
//	var env runner.Env
//	url := env.Required("DESTINATION_URL")
//	size := env.Int("BATCH_SIZE", 500)
//	if err := env.Err(); err != nil { ... }
type Env struct {
	// Lookup reads a variable; default os.LookupEnv.
	Lookup func(string) (string, bool)
	errs   []error
}

func (e *Env) lookup(name string) (string, bool) {
	if e.Lookup == nil {
		e.Lookup = os.LookupEnv
	}
	v, ok := e.Lookup(name)
	return strings.TrimSpace(v), ok
}

// Required returns the variable's value, or records that it is missing.
func (e *Env) Required(name string) string {
	v, _ := e.lookup(name)
	if v == "" {
		e.errs = append(e.errs, fmt.Errorf("%s is required but not set", name))
	}
	return v
}

// String returns the variable's value, or def when it is unset or empty:
// deployment tools (a SAM template, the Lambda console) often leave a
// variable defined but empty, which should not override a default.
func (e *Env) String(name, def string) string {
	if v, _ := e.lookup(name); v != "" {
		return v
	}
	return def
}

// Int returns the variable as an int, def when unset or empty.
func (e *Env) Int(name string, def int) int {
	v, _ := e.lookup(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a whole number", name, v))
		return def
	}
	return n
}

// Float returns the variable as a float64, def when unset or empty.
func (e *Env) Float(name string, def float64) float64 {
	v, _ := e.lookup(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a number", name, v))
		return def
	}
	return f
}

// Duration returns the variable as a time.Duration ("90s", "1m30s"; a
// bare number is milliseconds, like LAMBDA_TIMEOUT), def when unset or
// empty.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, _ := e.lookup(name)
	if v == "" {
		return def
	}
	if ms, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(ms * float64(time.Millisecond))
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a duration (like 90s, or milliseconds)", name, v))
		return def
	}
	return d
}

// Bool returns the variable as a bool (1/0, true/false, yes/no), def when
// unset or empty.
func (e *Env) Bool(name string, def bool) bool {
	v, _ := e.lookup(name)
	switch strings.ToLower(v) {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	e.errs = append(e.errs, fmt.Errorf("%s=%q is not true or false", name, v))
	return def
}

// Err returns every problem found so far, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}
