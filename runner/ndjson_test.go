package runner

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

type splitLine struct {
	text string
	off  int64
	num  int64
}

func splitAll(t testing.TB, in string, max int) ([]splitLine, []error) {
	s := newLineSplitter(strings.NewReader(in), 0, 0, max)
	var lines []splitLine
	var errs []error
	for {
		line, off, num, err := s.next()
		if err == io.EOF {
			return lines, errs
		}
		if err != nil {
			errs = append(errs, err)
			if !errors.Is(err, errLineTooLong) {
				return lines, errs
			}
			continue
		}
		lines = append(lines, splitLine{string(line), off, num})
	}
}

func TestLineSplitter_Endings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []splitLine
	}{
		{"lf", "{\"a\":1}\n{\"b\":2}\n", []splitLine{{`{"a":1}`, 0, 1}, {`{"b":2}`, 8, 2}}},
		{"crlf", "{\"a\":1}\r\n{\"b\":2}\r\n", []splitLine{{`{"a":1}`, 0, 1}, {`{"b":2}`, 9, 2}}},
		{"no final newline", "{\"a\":1}\n{\"b\":2}", []splitLine{{`{"a":1}`, 0, 1}, {`{"b":2}`, 8, 2}}},
		{"blank lines keep numbering", "\n{\"a\":1}\n  \r\n\n{\"b\":2}\n\n", []splitLine{{`{"a":1}`, 1, 2}, {`{"b":2}`, 14, 5}}},
		{"bom", "\xEF\xBB\xBF{\"a\":1}\n", []splitLine{{`{"a":1}`, 3, 1}}},
		{"empty", "", nil},
		{"only blank", "\n\r\n  ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := splitAll(t, tt.in, 1<<20)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLineSplitter_TenMegabyteLine(t *testing.T) {
	big := `{"blob":"` + strings.Repeat("x", 10<<20) + `"}`
	in := "{\"a\":1}\n" + big + "\r\n{\"b\":2}"
	got, errs := splitAll(t, in, 64<<20)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(got) != 3 || got[1].text != big || got[2].text != `{"b":2}` || got[2].off != int64(8+len(big)+2) {
		t.Fatalf("lines: %d, second len %d, third %+v", len(got), len(got[1].text), got[len(got)-1])
	}
}

func TestLineSplitter_TooLongLineIsSkipped(t *testing.T) {
	in := "{\"a\":1}\n" + strings.Repeat("y", 1<<20) + "\n{\"b\":2}\n"
	got, errs := splitAll(t, in, 1000)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 2: line too long") {
		t.Fatalf("errors = %v", errs)
	}
	if len(got) != 2 || got[1] != (splitLine{`{"b":2}`, int64(8 + 1<<20 + 1), 3}) {
		t.Fatalf("lines = %+v", got)
	}
}

func FuzzLineSplitter(f *testing.F) {
	f.Add([]byte("{\"a\":1}\r\n\n{\"b\":2}"), 16)
	f.Add([]byte("\xEF\xBB\xBF\n\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max <= 0 || max > 1<<16 {
			max = 64
		}
		s := newLineSplitter(bytes.NewReader(in), 0, 0, max)
		prevNum := int64(0)
		for i := 0; i <= len(in)+1; i++ {
			line, off, num, err := s.next()
			if err == io.EOF {
				return
			}
			if err == nil {
				if off < 0 || off+int64(len(line)) > int64(len(in)) || !bytes.Equal(in[off:off+int64(len(line))], line) {
					t.Fatalf("line %q at %d does not match input", line, off)
				}
			} else if !errors.Is(err, errLineTooLong) {
				t.Fatalf("unexpected error %v", err)
			}
			if num <= prevNum {
				t.Fatalf("line number %d after %d", num, prevNum)
			}
			prevNum = num
		}
		t.Fatal("splitter did not reach EOF")
	})
}
