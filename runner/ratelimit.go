package runner

import (
	"context"

	"golang.org/x/time/rate"
)

// limiter spaces requests to at most perMinute a minute. It counts
// requests, retries included (the Python original counted characters),
// and spreads them evenly: a burst of one means a minute never sees more
// than perMinute+1 requests, whatever the window's alignment.
type limiter struct {
	lim   *rate.Limiter
	clock Clock
}

// newLimiter returns nil (no limit) when perMinute <= 0.
func newLimiter(perMinute float64, clock Clock) *limiter {
	if perMinute <= 0 {
		return nil
	}
	return &limiter{lim: rate.NewLimiter(rate.Limit(perMinute/60), 1), clock: clock}
}

// wait blocks until a request may start. The reservation is made against
// the injected clock, so tests see exact delays without waiting for them.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	r := l.lim.ReserveN(l.clock.Now(), 1)
	if err := l.clock.Sleep(ctx, r.DelayFrom(l.clock.Now())); err != nil {
		r.CancelAt(l.clock.Now())
		return err
	}
	return nil
}
