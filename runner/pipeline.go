package runner

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/amperity/lambda-runner-go/internal/jsonscan"
)

// summary snapshots the counters.
func (j *job) summary(state State, reason string, took time.Duration) Summary {
	j.mu.Lock()
	defer j.mu.Unlock()
	var read int64
	if j.dl != nil {
		read = j.dl.bytesRead()
	}
	return Summary{
		State: state, Reason: reason,
		Records: j.records, Sent: j.sent, Failed: j.failed,
		Batches: j.batches, FailedBatches: j.failedBatches, Errors: j.errors,
		Bytes: read, Duration: took.Round(time.Millisecond).String(),
	}
}

// recordError counts and queues an error for the next report.
func (j *job) recordError(msg string) {
	j.mu.Lock()
	j.errors++
	if j.firstErr == "" {
		j.firstErr = msg
	}
	j.mu.Unlock()
	j.rep.errorf("%s", msg)
}

// fail stops the job with err as the reason.
func (j *job) fail(err error) {
	j.mu.Lock()
	if j.fatal == nil {
		j.fatal = err
	}
	j.mu.Unlock()
	j.cancel(err)
}

// openLines wraps the download in a decompressor when the file is gzip,
// detected by Content-Encoding or by its magic bytes.
func (j *job) openLines() (*lineSplitter, error) {
	from := j.from
	br := bufio.NewReaderSize(j.dl, 256<<10)
	magic, _ := br.Peek(2)
	gz := from.Gzip || strings.EqualFold(j.dl.encoding, "gzip") ||
		(j.dl.start == 0 && len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
	j.gzip = gz
	if !gz {
		return newLineSplitter(br, from.Offset, from.Line, j.r.cfg.MaxLineBytes), nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("download: file is not valid gzip: %w", err)
	}
	if from.Offset > 0 {
		// Compressed offsets do not map to record offsets: read up to the
		// cursor and discard.
		if _, err := io.CopyN(io.Discard, zr, from.Offset); err != nil {
			return nil, fmt.Errorf("download: skipping to byte %d of the decompressed file: %w", from.Offset, err)
		}
	}
	return newLineSplitter(zr, from.Offset, from.Line, j.r.cfg.MaxLineBytes), nil
}

// pump reads the file and feeds the sink until the end of the file, a
// read error or cancellation. It returns the read error, if any.
func (j *job) pump(ctx context.Context) error {
	cfg := j.r.cfg
	lines, err := j.openLines()
	if err != nil {
		return err
	}

	// A fixed set of batches circulates between the reader and the
	// senders, so memory stays flat whatever the file's size.
	free := make(chan *Batch, cfg.MaxInFlight+1)
	for range cfg.MaxInFlight + 1 {
		free <- &Batch{}
	}
	work := make(chan *Batch)
	var wg sync.WaitGroup
	for range cfg.MaxInFlight {
		wg.Go(func() {
			for b := range work {
				j.complete(b, j.send(ctx, b))
				b.reset()
				free <- b
			}
		})
	}
	defer wg.Wait()
	defer close(work)

	seq := 0
	dispatch := func(b *Batch) bool {
		seq++
		b.Seq = seq
		b.Request = j.req
		b.seal()
		select {
		case work <- b:
		case <-ctx.Done():
			return false
		}
		j.rep.report(ctx, false)
		return true
	}

	// BatchOffset counts from the start of the file: a job resumed from a
	// cursor has already skipped them.
	toSkip := cfg.BatchOffset
	if j.from.Offset > 0 || j.from.Line > 0 {
		toSkip = 0
	}
	var skipped int64
	cur := <-free
	for n := 0; ; n++ {
		line, off, num, err := lines.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				j.mu.Lock()
				j.records++
				j.mu.Unlock()
				j.countInvalid(err.Error())
				if cfg.FailOnInvalidRecord {
					j.fail(err)
					return nil
				}
				continue
			}
			return err
		}
		if skipped < toSkip {
			skipped++
			continue
		}
		j.mu.Lock()
		j.records++
		j.mu.Unlock()
		if !jsonscan.Object(line) {
			msg := fmt.Sprintf("line %d: %s", num, invalidReason(line))
			j.countInvalid(msg)
			if cfg.FailOnInvalidRecord {
				j.fail(errors.New(msg))
				return nil
			}
			continue
		}
		if len(cur.Records) > 0 && cfg.BatchBytes > 0 && cur.size()+len(line) > cfg.BatchBytes {
			if !dispatch(cur) {
				return ctx.Err()
			}
			cur = <-free
		}
		cur.add(line, off, num)
		cur.end = lines.off
		if len(cur.Records) >= cfg.BatchSize {
			if !dispatch(cur) {
				return ctx.Err()
			}
			cur = <-free
			if j.shouldContinue() {
				break
			}
		}
		if n%64 == 0 && j.shouldContinue() {
			break
		}
		if n%1024 == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			j.rep.setProgress(j.progress())
			j.rep.report(ctx, false)
		}
	}
	if len(cur.Records) > 0 && !dispatch(cur) {
		return ctx.Err()
	}
	if j.shouldContinue() && !lines.eof {
		// Everything read so far is dispatched; the next invocation
		// starts at the next line.
		j.handoff = &Cursor{Offset: lines.off, Line: lines.line, Gzip: j.gzip}
	}
	return ctx.Err()
}

// countInvalid counts a line that is not a record.
func (j *job) countInvalid(msg string) {
	j.mu.Lock()
	j.failed++
	j.mu.Unlock()
	j.recordError(msg)
}

// invalidReason explains why line is not a JSON object.
func invalidReason(line []byte) string {
	var v any
	if err := json.Unmarshal(line, &v); err != nil {
		return "invalid JSON: " + jsonErrText(err)
	}
	return fmt.Sprintf("not a JSON object (found a JSON %s)", jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

// send calls the sink, turning a panic into a fatal error so the job is
// reported as failed rather than left running.
func (j *job) send(ctx context.Context, b *Batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Fatal(fmt.Errorf("panic in sink: %v", p))
		}
	}()
	return j.r.cfg.Sink.Send(ctx, b)
}

// complete accounts for a batch the sink has finished with.
func (j *job) complete(b *Batch, err error) {
	defer func() {
		j.mu.Lock()
		j.done = max(j.done, b.end)
		j.mu.Unlock()
		j.rep.setProgress(j.progress())
	}()
	n := int64(len(b.Records))
	var recErrs RecordErrors
	switch {
	case err == nil:
		j.mu.Lock()
		j.batches++
		j.sent += n
		j.mu.Unlock()
	case errors.As(err, &recErrs):
		j.mu.Lock()
		j.batches++
		j.sent += n - int64(len(recErrs))
		j.failed += int64(len(recErrs))
		j.mu.Unlock()
		for _, re := range recErrs {
			j.recordError(re.Error())
		}
	default:
		j.mu.Lock()
		j.batches++
		j.failedBatches++
		j.failed += n
		j.mu.Unlock()
		msg := fmt.Sprintf("batch %d (%s): %v", b.Seq, b.Lines(), err)
		if IsFatal(err) {
			j.fail(errors.New(msg))
			return
		}
		j.recordError(msg)
	}
}
