// Package dotenv reads .env files: KEY=VALUE lines as Docker Compose and
// most dotenv libraries write them, with comments, blank lines, an
// optional "export " prefix and single- or double-quoted values. A line it
// cannot read is an error naming the file and line, never skipped.
package dotenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Var is one variable, in file order.
type Var struct {
	Key, Value string
}

// keyPattern is what a variable name may look like.
var keyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// Parse reads variables from r; name is used in error messages.
func Parse(r io.Reader, name string) ([]Var, error) {
	var vars []Var
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not KEY=VALUE", name, n, excerpt(line))
		}
		if !keyPattern.MatchString(key) {
			return nil, fmt.Errorf("%s:%d: %q is not a valid variable name", name, n, excerpt(key))
		}
		v, err := unquote(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", name, n, key, err)
		}
		vars = append(vars, Var{Key: key, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return vars, nil
}

// unquote handles 'single' (literal), "double" (with \n, \t, \", \\
// escapes) and bare values (a " #" starts a comment).
func unquote(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch q := v[0]; q {
	case '\'', '"':
		end := strings.LastIndexByte(v, q)
		if end == 0 {
			return "", fmt.Errorf("unterminated %c quote", q)
		}
		if rest := strings.TrimSpace(v[end+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("unexpected %q after the closing quote", excerpt(rest))
		}
		inner := v[1:end]
		if q == '\'' {
			return inner, nil
		}
		return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\"`, `"`, `\\`, `\`).Replace(inner), nil
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}

func excerpt(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Load reads the file at path. A missing file is not an error: found is
// false and vars nil.
func Load(path string) (vars []Var, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	vars, err = Parse(f, path)
	return vars, true, err
}

// Map turns vars into a map; later definitions win.
func Map(vars []Var) map[string]string {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}
