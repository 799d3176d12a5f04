package dotenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "\uFEFF# comment\n\nA=1\nexport B = two words \nC='single # kept'\nD=\"line\\nbreak \\\"q\\\"\" # note\nE=bare # comment\nF=\nG.H=x=y\n"
	vars, err := Parse(strings.NewReader(in), ".env")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(vars)
	want := fmt.Sprint([]Var{{"A", "1"}, {"B", "two words"}, {"C", "single # kept"}, {"D", "line\nbreak \"q\""}, {"E", "bare"}, {"F", ""}, {"G.H", "x=y"}})
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestParse_ErrorsNameTheLine(t *testing.T) {
	for in, want := range map[string]string{
		"A=1\nNOT A PAIR\n":   ".env:2: \"NOT A PAIR\" is not KEY=VALUE",
		"A=1\n\n1BAD=x\n":     ".env:3: \"1BAD\" is not a valid variable name",
		"A=\"open\n":          ".env:1: A: unterminated \" quote",
		"A='x' trailing\n":    ".env:1: A: unexpected \"trailing\" after the closing quote",
		"OK=1\nBAD KEY=1\n":   ".env:2: \"BAD KEY\" is not a valid variable name",
		"# c\n=novalue\n":     ".env:2: \"\" is not a valid variable name",
		"A=1\r\nB C=2\r\n":    ".env:2:",
		"X=1\nY\n":            ".env:2: \"Y\" is not KEY=VALUE",
		"Z='unterminated\n":   ".env:1: Z: unterminated ' quote",
		"export =1\nA=b\n":    ".env:1:",
		"A=1\n  # ok\nB\n":    ".env:3:",
		"\n\n\nQ R\n":         ".env:4:",
		"GOOD=1\nBAD-KEY=2\n": ".env:2: \"BAD-KEY\" is not a valid variable name",
	} {
		_, err := Parse(strings.NewReader(in), ".env")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestLoad_MissingFileIsNotAnError(t *testing.T) {
	vars, found, err := Load(filepath.Join(t.TempDir(), ".env"))
	if vars != nil || found || err != nil {
		t.Fatalf("%v %v %v", vars, found, err)
	}
	path := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(path, []byte("A=1\nA=2\n"), 0o600)
	vars, found, err = Load(path)
	if !found || err != nil || Map(vars)["A"] != "2" {
		t.Fatalf("%v %v %v", vars, found, err)
	}
}
