package gateway

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// output is one of a process's output pipes, with a count of the bytes
// its reader has processed, so a caller can wait for what was written up
// to a point to be read.
type output struct {
	r     *os.File
	w     *os.File // the child's end, closed in the parent after start
	mu    sync.Mutex
	done  int64         // bytes processed by the reader
	ping  chan struct{} // signalled after each processed line
	close func()
}

// newOutput makes a pipe and sets *dst (cmd.Stdout or cmd.Stderr) to its
// write end.
func newOutput(cmd *exec.Cmd, dst *io.Writer) (*output, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*dst = w
	o := &output{r: r, w: w, ping: make(chan struct{}, 1)}
	var once sync.Once
	o.close = func() { once.Do(func() { r.Close(); w.Close() }) }
	return o, nil
}

// parentDone closes the parent's copy of the write end once the child has
// its own, so the reader sees EOF when the child exits.
func (o *output) parentDone() { o.w.Close() }

func (o *output) consumed(n int) {
	o.mu.Lock()
	o.done += int64(n)
	o.mu.Unlock()
	select {
	case o.ping <- struct{}{}:
	default:
	}
}

// drain waits, at most max, until the bytes queued in the pipe now have
// been processed.
func (o *output) drain(max time.Duration) {
	queued, ok := pending(o.r)
	if !ok || queued == 0 {
		return
	}
	o.mu.Lock()
	target := o.done + int64(queued)
	o.mu.Unlock()
	timer := time.NewTimer(max)
	defer timer.Stop()
	for {
		o.mu.Lock()
		reached := o.done >= target
		o.mu.Unlock()
		if reached {
			return
		}
		select {
		case <-o.ping:
		case <-timer.C:
			return
		}
	}
}
