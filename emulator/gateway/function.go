package gateway

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// BuildError is a handler that did not compile.
type BuildError struct {
	Function string
	Output   string // the compiler's output
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("build of handlers/%s failed:\n%s", e.Function, e.Output)
}

// function is one handler: its builds and its pool of instances.
type function struct {
	g    *Gateway
	name string
	sem  chan struct{} // one token per invocation in progress

	mu        sync.Mutex
	wantGen   int         // bumped by every source change
	builtGen  int         // generation of binary (or of buildErr)
	binary    string      // current binary, "" before the first build
	buildErr  *BuildError // error of the last build, if it failed
	building  chan struct{}
	idle      []*instance
	instances map[*instance]bool
}

func newFunction(g *Gateway, name string) *function {
	return &function{g: g, name: name, sem: make(chan struct{}, g.cfg.MaxConcurrency), wantGen: 1, instances: map[*instance]bool{}}
}

func (f *function) arn() string {
	return fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", f.g.region(), f.name)
}

// timeout is the function's timeout: LAMBDA_TIMEOUT (milliseconds) from
// its .env, the repository's .env or the devserver's environment, else the
// gateway's default.
func (f *function) timeout() time.Duration {
	env := f.g.fileEnv(f.name)
	if v, ok := env["LAMBDA_TIMEOUT"]; ok {
		var ms float64
		if _, err := fmt.Sscan(v, &ms); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return f.g.cfg.DefaultTimeout
}

// changed marks the source as changed: the next invocation runs a new
// build. If the function was built before, the rebuild starts now.
func (f *function) changed() {
	f.mu.Lock()
	f.wantGen++
	started := f.binary != "" || f.buildErr != nil
	f.mu.Unlock()
	if started {
		go f.ensureBuilt(context.Background(), true)
	}
}

// ensureBuilt returns the current binary, building it if the source
// changed since the last build. Concurrent callers share one build.
//
// Background builds (prebuilds, rebuilds after a change) run one at a
// time; a build a request is waiting for does not queue behind them.
func (f *function) ensureBuilt(ctx context.Context, background bool) (string, int, error) {
	for {
		f.mu.Lock()
		if f.builtGen == f.wantGen {
			bin, gen, berr := f.binary, f.builtGen, f.buildErr
			f.mu.Unlock()
			if berr != nil {
				return "", gen, berr
			}
			return bin, gen, nil
		}
		if f.building != nil {
			wait := f.building
			f.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", 0, context.Cause(ctx)
			}
		}
		gen := f.wantGen
		done := make(chan struct{})
		f.building = done
		f.mu.Unlock()

		bin, err := f.g.build(f.name, gen, background)

		f.mu.Lock()
		f.building = nil
		f.builtGen = gen
		var retire []*instance
		if err != nil {
			first := f.buildErr == nil || f.buildErr.Output != err.Output
			f.buildErr = err
			f.mu.Unlock()
			if first && f.g.ctx.Err() == nil {
				f.g.terminal(fmt.Sprintf("%s | build failed:\n%s", f.name, indent(err.Output)))
			}
			f.g.setBuildError(f.name, err)
		} else {
			hadErr := f.buildErr != nil
			old := f.binary
			f.binary, f.buildErr = bin, nil
			// Idle processes run the old code: retire them. Busy ones
			// finish their invocation and are retired when released.
			retire, f.idle = f.idle, nil
			f.mu.Unlock()
			if old != "" || hadErr {
				f.g.terminal(fmt.Sprintf("%s | rebuilt", f.name))
			}
			f.g.setBuildError(f.name, nil)
		}
		close(done)
		for _, inst := range retire {
			f.retire(inst)
		}
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// acquire takes a free instance of the current build, or starts one. The
// caller must release it.
func (f *function) acquire(ctx context.Context) (inst *instance, cold bool, ferr *FunctionError, initLogs string, err error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, nil, "", context.Cause(ctx)
	}
	bin, gen, err := f.ensureBuilt(ctx, false)
	if err != nil {
		<-f.sem
		return nil, false, nil, "", err
	}
	f.mu.Lock()
	for len(f.idle) > 0 {
		inst = f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if inst.alive() && inst.gen == gen {
			f.mu.Unlock()
			return inst, false, nil, "", nil
		}
		f.mu.Unlock()
		f.retire(inst)
		f.mu.Lock()
	}
	f.mu.Unlock()
	inst, ferr, initLogs = f.startInstance(ctx, bin, gen)
	if ferr != nil {
		<-f.sem
		return nil, true, ferr, initLogs, nil
	}
	f.mu.Lock()
	f.instances[inst] = true
	f.mu.Unlock()
	return inst, true, nil, "", nil
}

// release returns an instance after an invocation: back to the idle pool
// if it is healthy and current, otherwise stopped.
func (f *function) release(inst *instance) {
	defer func() { <-f.sem }()
	f.mu.Lock()
	if inst.alive() && inst.gen == f.builtGen && f.buildErr == nil {
		inst.mu.Lock()
		inst.lastUsed = time.Now()
		inst.mu.Unlock()
		f.idle = append(f.idle, inst)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.retire(inst)
}

// retire stops an instance and forgets it; its binary is deleted once no
// process runs it and it is no longer the current build.
func (f *function) retire(inst *instance) {
	inst.stop()
	go func() {
		<-inst.exited
		f.mu.Lock()
		delete(f.instances, inst)
		inUse := inst.binary == f.binary
		for other := range f.instances {
			inUse = inUse || other.binary == inst.binary
		}
		f.mu.Unlock()
		if _, prebuilt := f.g.cfg.Binaries[f.name]; !inUse && !prebuilt {
			os.Remove(inst.binary)
		}
	}()
}

// reapIdle stops instances idle for longer than the idle timeout.
func (f *function) reapIdle(now time.Time) {
	f.mu.Lock()
	var keep, stop []*instance
	for _, inst := range f.idle {
		inst.mu.Lock()
		idle := now.Sub(inst.lastUsed)
		inst.mu.Unlock()
		if idle > f.g.cfg.IdleTimeout {
			stop = append(stop, inst)
		} else {
			keep = append(keep, inst)
		}
	}
	f.idle = keep
	f.mu.Unlock()
	for _, inst := range stop {
		f.retire(inst)
	}
}

// stopAll stops every instance (at shutdown).
func (f *function) stopAll() {
	f.mu.Lock()
	all := make([]*instance, 0, len(f.instances))
	for inst := range f.instances {
		all = append(all, inst)
	}
	f.idle = nil
	f.mu.Unlock()
	for _, inst := range all {
		inst.stop()
		<-inst.exited
	}
}

// live counts the function's running processes.
func (f *function) live() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for inst := range f.instances {
		if inst.alive() {
			n++
		}
	}
	return n
}

// build compiles handlers/<name> into the cache directory.
func (g *Gateway) build(name string, gen int, background bool) (string, *BuildError) {
	if bin, ok := g.cfg.Binaries[name]; ok {
		return bin, nil
	}
	out := filepath.Join(g.cfg.CacheDir, fmt.Sprintf("%s-%d", name, gen))
	// Background builds share the machine with everything else: one at a
	// time (go build runs its own work in parallel). All are cancelled by
	// Close, so a shutdown never waits for a compiler.
	if background {
		select {
		case g.builds <- struct{}{}:
			defer func() { <-g.builds }()
		case <-g.ctx.Done():
			return "", &BuildError{Function: name, Output: "the devserver is shutting down"}
		}
	}
	cmd := exec.CommandContext(g.ctx, g.goTool(), "build", "-tags", "lambda.norpc", "-o", out, "./handlers/"+name)
	cmd.Dir = g.cfg.Root
	cmd.Env = os.Environ()
	output, err := cmd.CombinedOutput()
	if err != nil {
		text := strings.TrimSpace(string(output))
		if text == "" {
			text = err.Error()
		}
		return "", &BuildError{Function: name, Output: text}
	}
	return out, nil
}

// billed rounds a duration up to the millisecond, as Lambda bills.
func billed(d time.Duration) int64 { return int64(math.Ceil(float64(d) / float64(time.Millisecond))) }
