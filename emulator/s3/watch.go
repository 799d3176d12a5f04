package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long a fixture file must be quiet before it is uploaded:
// editors and cp write in several steps, and uploading each half-written
// state would serve truncated files.
const settle = 150 * time.Millisecond

// watcher keeps the bucket in step with the fixtures directory.
type watcher struct {
	fs      *fsnotify.Watcher
	mu      sync.Mutex
	pending map[string]*time.Timer
}

// Watch keeps the bucket in step with FixturesDir until ctx is done: a new
// or changed fixture is uploaded and a removed one deleted, within a second.
// It returns once watching has started; changes are logged.
func (s *Server) Watch(ctx context.Context) error {
	if s.cfg.FixturesDir == "" {
		return nil
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("s3: watch fixtures: %w", err)
	}
	w := &watcher{fs: fw, pending: map[string]*time.Timer{}}
	if err := w.addTree(s.cfg.FixturesDir); err != nil {
		fw.Close()
		return fmt.Errorf("s3: watch fixtures: %w", err)
	}
	go func() {
		<-ctx.Done()
		fw.Close()
	}()
	go s.watchLoop(ctx, w)
	return nil
}

// addTree watches dir and every directory below it (fsnotify is not
// recursive).
func (w *watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return w.fs.Add(path)
		}
		return nil
	})
}

func (s *Server) watchLoop(ctx context.Context, w *watcher) {
	for {
		select {
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			s.handleEvent(ctx, w, ev)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			s.log.Warn("fixtures watcher", "error", err)
		}
	}
}

func (s *Server) handleEvent(ctx context.Context, w *watcher, ev fsnotify.Event) {
	if ev.Has(fsnotify.Create) {
		if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
			// A new directory: watch it and upload what it already holds.
			if err := w.addTree(ev.Name); err != nil {
				s.log.Warn("fixtures watcher", "dir", ev.Name, "error", err)
			}
			filepath.WalkDir(ev.Name, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && isFixture(d.Name()) {
					w.later(path, func() { s.sync(ctx, path) })
				}
				return nil
			})
			return
		}
	}
	if !isFixture(filepath.Base(ev.Name)) {
		return
	}
	path := ev.Name
	w.later(path, func() { s.sync(ctx, path) })
}

// later runs fn once path has been quiet for the settle time.
func (w *watcher) later(path string, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.pending[path]; ok {
		t.Stop()
	}
	w.pending[path] = time.AfterFunc(settle, func() {
		w.mu.Lock()
		delete(w.pending, path)
		w.mu.Unlock()
		fn()
	})
}

// sync uploads path if it exists, or deletes its object if it does not.
func (s *Server) sync(ctx context.Context, path string) {
	if ctx.Err() != nil {
		return
	}
	key, _ := s.key(path)
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := s.remove(path); err != nil {
			s.log.Warn("fixture removed but not deleted from S3", "key", key, "error", err)
			return
		}
		s.log.Info("fixture removed", "bucket", s.cfg.Bucket, "key", key)
		s.notify()
	case err != nil:
		s.log.Warn("fixture not readable", "path", path, "error", err)
	default:
		if err := s.upload(path); err != nil {
			s.log.Warn("fixture not uploaded", "key", key, "error", err)
			return
		}
		s.log.Info("fixture uploaded", "bucket", s.cfg.Bucket, "key", key)
		s.notify()
	}
}

func (s *Server) notify() {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}
