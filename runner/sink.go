package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Sink delivers batches of records to a destination. It is the one
// interface a handler implements when the HTTP sink does not fit (AWS SDK
// calls, databases). Send may be called from several goroutines at once
// when Config.MaxInFlight > 1.
//
// Send's error decides what happens to the batch:
//   - nil: every record was delivered;
//   - RecordErrors: the records named failed, the others were delivered;
//   - an error wrapped with Fatal: the job stops and ends failed;
//   - any other error: the whole batch failed; the job goes on.
type Sink interface {
	Send(ctx context.Context, b *Batch) error
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(ctx context.Context, b *Batch) error

// Send calls f.
func (f SinkFunc) Send(ctx context.Context, b *Batch) error { return f(ctx, b) }

// RecordError is a record a sink could not deliver.
type RecordError struct {
	Line int64 // the record's line number
	Err  error
}

func (e RecordError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e RecordError) Unwrap() error { return e.Err }

// RecordErrors lists the records of a batch that failed when the others
// were delivered.
type RecordErrors []RecordError

func (e RecordErrors) Error() string {
	msgs := make([]string, 0, min(len(e), 3))
	for i, re := range e {
		if i == 3 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(e)-3))
			break
		}
		msgs = append(msgs, re.Error())
	}
	return fmt.Sprintf("%d records failed: %s", len(e), strings.Join(msgs, "; "))
}

// fatalError marks an error that ends the job.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

// Fatal wraps err so that returning it from Sink.Send ends the job as
// failed instead of counting one failed batch.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return fatalError{err}
}

// IsFatal reports whether err was wrapped with Fatal.
func IsFatal(err error) bool {
	var f fatalError
	return errors.As(err, &f)
}
