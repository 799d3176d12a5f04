// Package s3 is the devserver's in-memory S3: gofakes3 with its memory
// backend, a bucket seeded from the fixtures directory and kept in sync
// with it, and the fixes that let default-configured AWS SDK v2 clients
// use it (aws-chunked uploads, no whole-object checksums on ranged reads).
package s3

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Config configures a Server. Zero values mean the defaults given.
type Config struct {
	// Bucket is created at start; default "test-bucket".
	Bucket string
	// FixturesDir is seeded into Bucket and watched; "" seeds nothing.
	FixturesDir string
	// Logger receives seeding and watching logs; default slog.Default().
	Logger *slog.Logger
	// OnChange, when set, is called after the fixtures watcher changed the
	// bucket. It must not block.
	OnChange func()
}

// Server is an in-memory S3 endpoint.
type Server struct {
	cfg     Config
	backend *s3mem.Backend
	handler http.Handler
	log     *slog.Logger
}

// New creates the bucket and uploads the fixtures.
func New(cfg Config) (*Server, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "test-bucket"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	backend := s3mem.New()
	faker := gofakes3.New(backend,
		gofakes3.WithLogger(gofakes3.DiscardLog()),
		// Presigned URLs made hours ago must still work locally.
		gofakes3.WithTimeSkewLimit(0),
	)
	s := &Server{
		cfg:     cfg,
		backend: backend,
		handler: partialChecksums(awsChunked(faker.Server())),
		log:     cfg.Logger,
	}
	if err := backend.CreateBucket(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3: create bucket %s: %w", cfg.Bucket, err)
	}
	if cfg.FixturesDir != "" {
		if err := s.seed(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Bucket is the bucket the fixtures live in.
func (s *Server) Bucket() string { return s.cfg.Bucket }

// ServeHTTP serves the S3 API, path-style.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// isFixture reports whether a file name is served from the fixtures dir.
func isFixture(name string) bool {
	return strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".ndjson.gz")
}

// seed uploads every fixture under FixturesDir.
func (s *Server) seed() error {
	dir := s.cfg.FixturesDir
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		s.log.Warn("fixtures directory not found; the bucket starts empty", "dir", dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("s3: fixtures: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("s3: fixtures: %s is not a directory", dir)
	}
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isFixture(d.Name()) {
			return nil
		}
		return s.upload(path)
	})
}

// key is the object key of a fixture file: its path relative to the
// fixtures dir, with forward slashes.
func (s *Server) key(path string) (string, error) {
	rel, err := filepath.Rel(s.cfg.FixturesDir, path)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// upload puts one fixture file into the bucket.
func (s *Server) upload(path string) error {
	key, err := s.key(path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("s3: fixture %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("s3: fixture %s: %w", path, err)
	}
	contentType := "application/x-ndjson"
	if strings.HasSuffix(key, ".gz") {
		contentType = "application/gzip"
	}
	return s.Put(key, contentType, f, info.Size())
}

// Put stores an object in the bucket.
func (s *Server) Put(key, contentType string, r io.Reader, size int64) error {
	meta := map[string]string{
		"Content-Type":  contentType,
		"Last-Modified": time.Now().UTC().Format(http.TimeFormat),
	}
	if _, err := s.backend.PutObject(s.cfg.Bucket, key, meta, r, size, nil); err != nil {
		return fmt.Errorf("s3: put %s: %w", key, err)
	}
	return nil
}

// remove deletes the object a removed fixture was served as.
func (s *Server) remove(path string) error {
	key, err := s.key(path)
	if err != nil {
		return err
	}
	if _, err := s.backend.DeleteObject(s.cfg.Bucket, key); err != nil {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	return nil
}

// Object describes an object in the bucket.
type Object struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
}

// Objects lists the bucket, sorted by key.
func (s *Server) Objects() ([]Object, error) {
	list, err := s.backend.ListBucket(s.cfg.Bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, fmt.Errorf("s3: list %s: %w", s.cfg.Bucket, err)
	}
	out := make([]Object, 0, len(list.Contents))
	for _, c := range list.Contents {
		out = append(out, Object{Key: c.Key, Size: c.Size, LastModified: c.LastModified.Time})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
