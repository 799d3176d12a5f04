package s3

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServer_WatchReseedsFixtures(t *testing.T) {
	s, _, dir := start(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	has := func(key string, size int64) func() bool {
		return func() bool {
			objs, _ := s.Objects()
			for _, o := range objs {
				if o.Key == key {
					return size < 0 || o.Size == size
				}
			}
			return false
		}
	}
	gone := func(key string) func() bool { return func() bool { return !has(key, -1)() } }

	os.WriteFile(filepath.Join(dir, "new.ndjson"), []byte("{}\n"), 0o644)
	eventually(t, 3*time.Second, "new fixture uploaded", has("new.ndjson", 3))

	os.WriteFile(filepath.Join(dir, "sample.ndjson"), []byte("{\"changed\":true}\n"), 0o644)
	eventually(t, 3*time.Second, "changed fixture re-uploaded", has("sample.ndjson", 17))

	os.Remove(filepath.Join(dir, "new.ndjson"))
	eventually(t, 3*time.Second, "removed fixture deleted", gone("new.ndjson"))

	sub := filepath.Join(dir, "later")
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "deep.ndjson"), []byte("{}\n{}\n"), 0o644)
	eventually(t, 3*time.Second, "fixture in new directory uploaded", has("later/deep.ndjson", 6))

	os.WriteFile(filepath.Join(dir, "ignored.csv"), []byte("a,b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "marker.ndjson"), []byte("{}\n"), 0o644)
	eventually(t, 3*time.Second, "marker uploaded", has("marker.ndjson", 3))
	if has("ignored.csv", -1)() {
		t.Error("a non-fixture file was uploaded")
	}
}
