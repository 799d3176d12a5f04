package gateway

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long the source must be quiet before a rebuild: an
// editor's save, a git checkout or gofmt touch several files in a burst.
const debounce = 200 * time.Millisecond

// skipDirs are never watched: they hold no handler source, or too much.
var skipDirs = map[string]bool{".git": true, "build": true, "node_modules": true, "fixtures": true, "vendor": true, "testdata": true}

// Watch rebuilds handlers when the module's Go source changes, until ctx
// is done: a change under handlers/<name> rebuilds that handler, any other
// change (runner/, go.mod) rebuilds them all. It returns once watching.
func (g *Gateway) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("gateway: watch: %w", err)
	}
	if err := g.watchTree(w, g.cfg.Root); err != nil {
		w.Close()
		return fmt.Errorf("gateway: watch: %w", err)
	}
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		defer w.Close()
		g.watchLoop(ctx, w)
	}()
	return nil
}

func (g *Gateway) watchTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished while walking
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".") || path == g.cfg.CacheDir) {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}

// isSource reports whether a change to path can change a build.
func isSource(path string) bool {
	base := filepath.Base(path)
	return (strings.HasSuffix(base, ".go") && !strings.HasSuffix(base, "_test.go")) || base == "go.mod" || base == "go.sum"
}

func (g *Gateway) watchLoop(ctx context.Context, w *fsnotify.Watcher) {
	var (
		mu      sync.Mutex
		changed = map[string]bool{}
		timer   *time.Timer
	)
	flush := func() {
		mu.Lock()
		paths := changed
		changed = map[string]bool{}
		mu.Unlock()
		g.rebuildFor(paths)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.ctx.Done():
			return
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			g.log.Warn("source watcher", "error", err)
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					g.watchTree(w, ev.Name)
					// Files may have landed before the watch: treat the
					// directory itself as changed.
					mu.Lock()
					changed[filepath.Join(ev.Name, "x.go")] = true
					mu.Unlock()
				}
			}
			if !isSource(ev.Name) && !ev.Has(fsnotify.Create) {
				continue
			}
			if isSource(ev.Name) {
				mu.Lock()
				changed[ev.Name] = true
				mu.Unlock()
			}
			if timer == nil {
				timer = time.AfterFunc(debounce, flush)
			} else {
				timer.Reset(debounce)
			}
		}
	}
}

// rebuildFor marks the functions a set of changed paths affects.
func (g *Gateway) rebuildFor(paths map[string]bool) {
	if len(paths) == 0 {
		return
	}
	handlersDir := filepath.Join(g.cfg.Root, "handlers") + string(filepath.Separator)
	all := false
	names := map[string]bool{}
	for p := range paths {
		rel, ok := strings.CutPrefix(p, handlersDir)
		if !ok {
			all = true
			break
		}
		name, _, _ := strings.Cut(rel, string(filepath.Separator))
		names[name] = true
	}
	g.mu.Lock()
	var fns []*function
	for name, f := range g.functions {
		if all || names[name] {
			fns = append(fns, f)
		}
	}
	g.mu.Unlock()
	for _, f := range fns {
		f.changed()
	}
}
