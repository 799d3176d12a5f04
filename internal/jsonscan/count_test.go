package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestCountRecords(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  bool
	}{
		{`[]`, 0, false},
		{` [1, {"a":[1,2]}, "x"] `, 3, false},
		{`{"data":[{"a":1},{"b":2}]}`, 2, false},
		{`{"batch":[{}],"sentAt":"now"}`, 1, false},
		{`{"a":[1],"b":[2,3]}`, 3, false},
		{`{"one":"record"}`, 1, false},
		{`{}`, 1, false},
		{`"scalar"`, 1, false},
		{`[1,]`, 0, true},
		{`{"data":[1,2}`, 0, true},
		{`{"data":[1]} x`, 0, true},
		{``, 0, true},
	}
	for _, tt := range tests {
		got, err := CountRecords([]byte(tt.in))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("CountRecords(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzCountRecords(f *testing.F) {
	f.Add([]byte(`{"data":[{"a":1},{"b":[2]}]}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := CountRecords(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("CountRecords(%q) error %v, json.Valid %v", b, err, json.Valid(b))
		}
		if err == nil && n < 0 {
			t.Fatalf("negative count")
		}
	})
}
