package runner

import (
	"strings"
	"testing"
	"time"
)

func TestEnv_ReadsAndCollectsEveryProblem(t *testing.T) {
	vars := map[string]string{"URL": "http://x", "EMPTY": "", "N": "12", "BAD_N": "twelve", "F": "1.5",
		"D_MS": "1500", "D": "90s", "BAD_D": "soon", "B": "yes", "BAD_B": "perhaps"}
	env := Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	if env.Required("URL") != "http://x" || env.String("EMPTY", "def") != "def" || env.String("MISSING", "def") != "def" ||
		env.Int("N", 0) != 12 || env.Float("F", 0) != 1.5 || env.Duration("D_MS", 0) != 1500*time.Millisecond ||
		env.Duration("D", 0) != 90*time.Second || !env.Bool("B", false) || env.Int("MISSING", 7) != 7 {
		t.Fatal("values read wrong")
	}
	if env.Err() != nil {
		t.Fatalf("unexpected error %v", env.Err())
	}
	env.Required("NOT_SET")
	env.Int("BAD_N", 1)
	env.Duration("BAD_D", 0)
	env.Bool("BAD_B", false)
	err := env.Err()
	for _, want := range []string{"NOT_SET is required", `BAD_N="twelve" is not a whole number`, `BAD_D="soon" is not a duration`, `BAD_B="perhaps" is not true or false`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
