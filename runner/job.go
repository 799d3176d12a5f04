package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// job is one run of the pipeline: read lines, batch them, hand batches to
// the sink, count and report.
type job struct {
	r      *Runner
	req    *Request
	rep    *reporter
	dl     *download
	cancel context.CancelCauseFunc
	from   Cursor
	gzip   bool // whether the file is gzip-compressed

	hop        int       // 1 for a job's first invocation
	started    time.Time // when the job's first invocation started
	continueAt time.Time // when to hand off to a new invocation; zero: never
	handoff    *Cursor   // set when the pump stopped to hand off
	done       int64     // end offset of the furthest batch the sink finished

	mu            sync.Mutex // guards the counters and fatal
	records       int64
	sent          int64
	failed        int64
	batches       int
	failedBatches int
	errors        int64
	firstErr      string
	fatal         error
}

// Cursor is a position in the data file: the byte offset where the next
// record starts and the number of the line before it. Each Record carries
// its Offset and Line, so a cursor can be taken after any batch.
type Cursor struct {
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`
	// Gzip records that the file is compressed: Offset is then a position
	// in the decompressed stream, reached by reading rather than by Range.
	Gzip bool `json:"gzip,omitempty"`
}

// Run runs one job to its end and reports its outcome to Amperity. The
// error is non-nil when the job failed; the summary is filled either way.
// Run always sends exactly one final report when the first one got
// through, whatever happens: a failed sink, a panic, a cancelled context.
// Near the invocation's deadline it hands the job to a new invocation
// instead (see Continuation); the summary's State is then Running.
func (r *Runner) Run(ctx context.Context, req Request) (Summary, error) {
	return r.RunFrom(ctx, req, Cursor{})
}

// RunFrom is Run starting at a cursor. Records before it are not
// downloaded again when the server honours Range requests; otherwise they
// are read and discarded. Line numbers continue from the cursor's.
func (r *Runner) RunFrom(ctx context.Context, req Request, from Cursor) (Summary, error) {
	return r.run(ctx, &Handoff{Request: req, Cursor: from, Hop: 1, Started: r.cfg.Clock.Now()}, false)
}

// Resume continues a job another invocation handed off.
func (r *Runner) Resume(ctx context.Context, h *Handoff) (Summary, error) {
	return r.run(ctx, h, true)
}

func (r *Runner) run(ctx context.Context, h *Handoff, resumed bool) (sum Summary, err error) {
	start := r.cfg.Clock.Now()
	req := h.Request
	rep := r.newReporter(req)
	log := r.log.With("webhook_id", req.WebhookID, "hop", h.Hop)
	j := &job{r: r, req: &req, rep: rep, from: h.Cursor, hop: h.Hop, started: h.Started,
		records: h.Records, sent: h.Sent, failed: h.Failed, batches: h.Batches, failedBatches: h.FailedBatches,
		errors: h.Errors, firstErr: h.FirstError, done: h.Cursor.Offset}
	if resumed {
		// Carry on where the previous invocation stopped: no new
		// "running from zero", and its unreported errors go out next.
		rep.progress, rep.pending, rep.overflow, rep.lastSent = h.Progress, h.PendingErrors, h.Overflow, start
	}

	// Keep time to send the final report before Lambda's deadline, and
	// plan the handoff.
	workCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	j.cancel = cancel
	if dl, ok := ctx.Deadline(); ok {
		remaining := dl.Sub(start)
		var stop context.CancelFunc
		workCtx, stop = context.WithDeadline(workCtx, dl.Add(-min(r.cfg.FinalReserve, remaining/4)))
		defer stop()
		if cont := r.cfg.Continuation; !cont.Disabled && cont.FunctionName != "" {
			j.continueAt = dl.Add(-cont.margin(remaining))
		}
	}
	finalCtx := context.WithoutCancel(ctx)

	finish := func(state State, reason string) (Summary, error) {
		sum := j.summary(state, reason, r.cfg.Clock.Now().Sub(j.started))
		rep.finish(finalCtx, state, reason)
		if state == Failed {
			log.Error("job failed", "reason", reason, "summary", sum)
			return sum, errors.New(reason)
		}
		log.Info("job succeeded", "summary", sum)
		return sum, nil
	}
	defer func() {
		if p := recover(); p != nil {
			sum, err = finish(Failed, fmt.Sprintf("internal error: panic: %v", p))
		}
	}()

	if rep.tenant == "" {
		log.Warn("no tenant: X-Amperity-Tenant will be empty and Amperity may refuse status reports; set TENANT_ID or send tenant_id")
	}
	if !resumed {
		if err := rep.start(workCtx); err != nil {
			// As the original: a job Amperity cannot hear about sends nothing.
			log.Error("job not started: first status report failed", "error", err)
			sum := j.summary(Failed, err.Error(), r.cfg.Clock.Now().Sub(start))
			return sum, fmt.Errorf("status callback unreachable, nothing sent: %w", err)
		}
	} else if age := start.Sub(j.started); age > r.cfg.Continuation.MaxAge {
		return finish(Failed, j.tooOld(age))
	}

	dlRetry := newRetrier(r.cfg.DownloadRetry, r.cfg.Clock, r.cfg.Jitter)
	rangeFrom := h.Cursor.Offset
	if h.Cursor.Gzip {
		rangeFrom = 0
	}
	d, err := openDownload(workCtx, r.cfg.HTTPClient, req.DataURL, rangeFrom, dlRetry)
	if err != nil {
		return finish(Failed, err.Error())
	}
	defer d.Close()
	j.dl = d

	readErr := j.pump(workCtx)

	switch {
	case j.fatal != nil:
		return finish(Failed, j.fatal.Error())
	case j.handoff != nil:
		return j.continueJob(finalCtx, finish)
	case readErr != nil && workCtx.Err() != nil:
		return finish(Failed, fmt.Sprintf("stopped before the end of the file (%v) after %d records sent", context.Cause(workCtx), j.sent))
	case readErr != nil:
		return finish(Failed, readErr.Error())
	case j.records > 0 && j.sent == 0 && j.failed > 0:
		return finish(Failed, fmt.Sprintf("no record was delivered: all %d records failed; first error: %s", j.failed, j.firstErr))
	}
	return finish(Succeeded, fmt.Sprintf("%d records sent, %d failed", j.sent, j.failed))
}

func (j *job) tooOld(age time.Duration) string {
	return fmt.Sprintf("the job has run for %s, past the %s limit (Amperity stops waiting after about 3 hours); stopped after %d records sent",
		age.Round(time.Second), j.r.cfg.Continuation.MaxAge, j.sent)
}

// progress is the share of the file whose records the sink has finished
// with. Bytes downloaded would run ahead of it by the read buffer (all of a
// small file at once); a gzip file, whose record offsets are not offsets
// in the download, falls back to the compressed bytes read.
func (j *job) progress() float64 {
	size := j.dl.size.Load()
	if j.gzip || size <= 0 {
		return j.dl.progress()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return float64(j.done) / float64(size)
}

// shouldContinue reports whether it is time to hand off.
func (j *job) shouldContinue() bool {
	return !j.continueAt.IsZero() && !j.r.cfg.Clock.Now().Before(j.continueAt)
}

// continueJob hands the job to a new invocation of the function.
func (j *job) continueJob(ctx context.Context, finish func(State, string) (Summary, error)) (Summary, error) {
	cont := j.r.cfg.Continuation
	now := j.r.cfg.Clock.Now()
	if j.hop+1 > cont.MaxHops {
		return finish(Failed, fmt.Sprintf("stopped after %d invocations, the most Continuation.MaxHops allows, with %d records sent", j.hop, j.sent))
	}
	if age := now.Sub(j.started); age > cont.MaxAge {
		return finish(Failed, j.tooOld(age))
	}
	j.rep.setProgress(j.progress())
	j.rep.report(ctx, true)

	j.rep.mu.Lock()
	pending, overflow, progress := j.rep.pending, j.rep.overflow, j.rep.progress
	j.rep.pending, j.rep.overflow = nil, 0
	j.rep.mu.Unlock()
	j.mu.Lock()
	next := &Handoff{Request: *j.req, Cursor: *j.handoff, Hop: j.hop + 1, Started: j.started,
		Records: j.records, Sent: j.sent, Failed: j.failed, Batches: j.batches, FailedBatches: j.failedBatches,
		Errors: j.errors, FirstError: j.firstErr, Progress: progress, PendingErrors: pending, Overflow: overflow}
	j.mu.Unlock()
	payload, err := next.encode()
	if err == nil {
		err = j.r.cfg.Invoker.InvokeAsync(ctx, cont.FunctionName, payload)
	}
	if err != nil {
		j.rep.mu.Lock()
		j.rep.pending, j.rep.overflow = pending, overflow
		j.rep.mu.Unlock()
		return finish(Failed, fmt.Sprintf("could not continue past the Lambda timeout: invoking %s failed: %v", cont.FunctionName, err))
	}
	sum := j.summary(Running, fmt.Sprintf("continued in invocation %d at byte %d", next.Hop, next.Cursor.Offset), now.Sub(j.started))
	j.r.log.Info("job continues in a new invocation", "webhook_id", j.req.WebhookID, "hop", next.Hop, "offset", next.Cursor.Offset, "records_sent", next.Sent)
	return sum, nil
}
