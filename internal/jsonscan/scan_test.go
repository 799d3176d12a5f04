package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestObject_AgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, ` {} `, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"\u00e9\n"}`,
		`{"a":-0.5e+10,"b":true,"c":false}`, "{\"a\":\"\xff\"}",
		``, ` `, `[]`, `1`, `"s"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":tru}`, `{"a":"\x"}`,
		`{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{} {}`, `{}x`, `{"a":[1,]}`, `{"a":[}`,
		`{"a":{]}`, `{"a":[1}`, `{"a":"b" "c"}`, `{"a" 1}`, `{1:2}`, `{"a":--1}`,
		`{"a":[[[[[]]]]]}`, `{"a":1}` + "\n", strings.Repeat(`{"a":[`, 10001) + strings.Repeat(`]}`, 10001),
		strings.Repeat(`{"a":`, 9999) + `1` + strings.Repeat(`}`, 9999),
	}
	for _, c := range cases {
		want := isObjectJSON([]byte(c))
		if got := Object([]byte(c)); got != want {
			t.Errorf("Object(%.60q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

// isObjectJSON is the reference: valid per encoding/json and an object.
func isObjectJSON(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	s := strings.TrimLeft(string(b), " \t\r\n")
	return strings.HasPrefix(s, "{")
}

func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5e3,"x\u0041",null,true,false,{}]}`, `{"a":`, `[1]`, `{"\\":"\""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Object(b), isObjectJSON(b); got != want {
			t.Fatalf("Object(%q) = %v, want %v", b, got, want)
		}
	})
}

func BenchmarkObject(b *testing.B) {
	rec := []byte(`{"amperity_id":"a1b2c3d4-00000007","given_name":"Ada","surname":"Lovelace","email":"ada@example.com","lifetime_revenue":18234.55,"segments":["vip","newsletter"],"state":null,"note":"` + strings.Repeat("x", 800) + `"}`)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if !Object(rec) {
			b.Fatal("invalid")
		}
	}
}
