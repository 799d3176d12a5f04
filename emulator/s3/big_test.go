package s3

import (
	"crypto/sha256"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

// block is a 251-periodic run of bytes, long enough to copy from at any
// phase.
var block = func() []byte {
	b := make([]byte, 251*4096+251)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// pattern yields n deterministic bytes without holding them.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	phase := int(p.off % 251)
	b = b[:min(int64(len(b)), p.n-p.off, int64(len(block)-phase))]
	copy(b, block[phase:])
	p.off += int64(len(b))
	return len(b), nil
}

// TestServer_OneGigabyteObject uploads 1 GB over HTTP and reads it back,
// checking the bytes and that the heap holds about one copy of the object.
func TestServer_OneGigabyteObject(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GB round trip skipped in -short mode")
	}
	const size = 1 << 30
	_, srv, _ := start(t, false)

	var peak atomic.Uint64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				metrics.Read(sample)
				if v := sample[0].Value.Uint64(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	runtime.GC()

	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/test-bucket/big.ndjson", &pattern{n: size})
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT: %s", resp.Status)
	}
	resp, err = http.Get(srv.URL + "/test-bucket/big.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	resp.Body.Close()
	want := sha256.New()
	io.Copy(want, &pattern{n: size})
	if err != nil || n != size || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("read back %d bytes, err %v, same bytes %v", n, err, string(got.Sum(nil)) == string(want.Sum(nil)))
	}
	t.Logf("peak heap %.0f MB for a %d MB object", float64(peak.Load())/(1<<20), size>>20)
	if peak.Load() > size*3/2 {
		t.Fatalf("peak heap %d MB: more than one copy of a %d MB object", peak.Load()>>20, size>>20)
	}
}
