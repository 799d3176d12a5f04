package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Config configures a Runner. Only Sink is required; zero values mean the
// defaults given on each field.
type Config struct {
	// Sink receives the batches.
	Sink Sink
	// TenantID is sent as X-Amperity-Tenant when the request carries no
	// tenant_id.
	TenantID string
	// BatchSize is the most records per batch; default 500.
	BatchSize int
	// BatchBytes caps the record bytes per batch; 0 means no cap. A single
	// record larger than the cap is sent alone.
	BatchBytes int
	// BatchOffset skips that many records before the first batch (the
	// original runner's catch-up).
	BatchOffset int64
	// MaxInFlight is how many batches may be in Sink.Send at once; default
	// 1, which keeps the destination's order the file's order.
	MaxInFlight int
	// FailOnInvalidRecord ends the job failed at the first line that is not
	// a JSON object. By default such a line is reported and skipped.
	FailOnInvalidRecord bool
	// MaxLineBytes is the longest line accepted; longer lines are reported
	// and skipped. Default 64 MiB.
	MaxLineBytes int
	// StatusInterval is the least time between two progress reports;
	// default 5 s (Amperity allows about 10 requests a second per tenant).
	// The first and the final report are always sent.
	StatusInterval time.Duration
	// StatusRetry and DownloadRetry are the retry policies for the status
	// callback and the data file.
	StatusRetry   Backoff
	DownloadRetry Backoff
	// FinalReserve is kept free before the invocation's deadline so the
	// final report can still be sent; default 5 s.
	FinalReserve time.Duration
	// Continuation hands a job to a new invocation before the deadline;
	// on by default whenever the function has a name and a deadline.
	Continuation Continuation
	// FrontDoor, when set, answers requests that come through a gateway
	// (API Gateway, HTTP API, Function URL) with 202 at once and runs the
	// job in an asynchronous invocation of the function, so API Gateway's
	// 29 s limit never cuts a job. Direct invokes always run the job.
	FrontDoor bool
	// Invoker starts the asynchronous invocations of continuation and the
	// front door. Default: the AWS SDK v2 Lambda client.
	Invoker Invoker
	// HTTPClient downloads the file and reports status. Default: a client
	// whose transport times out waiting for response headers after 30 s.
	HTTPClient *http.Client
	// Logger receives the runner's logs. Default: NewLogger(os.Stderr,
	// $LOG_LEVEL).
	Logger *slog.Logger
	// Clock and Jitter are for tests; zero values use the real ones.
	Clock  Clock
	Jitter func() float64
}

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	switch {
	case c.Sink == nil:
		return errors.New("runner: Config.Sink is required")
	case c.BatchSize < 0:
		return fmt.Errorf("runner: BatchSize %d is negative", c.BatchSize)
	case c.BatchBytes < 0:
		return fmt.Errorf("runner: BatchBytes %d is negative", c.BatchBytes)
	case c.BatchOffset < 0:
		return fmt.Errorf("runner: BatchOffset %d is negative", c.BatchOffset)
	case c.MaxInFlight < 0:
		return fmt.Errorf("runner: MaxInFlight %d is negative", c.MaxInFlight)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 64 << 20
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = 5 * time.Second
	}
	if c.FinalReserve <= 0 {
		c.FinalReserve = 5 * time.Second
	}
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 30 * time.Second
		c.HTTPClient = &http.Client{Transport: t}
	}
	if c.Logger == nil {
		c.Logger = DefaultLogger()
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	c.Continuation = c.Continuation.withDefaults()
	if c.Invoker == nil {
		c.Invoker = &sdkInvoker{}
	}
	return c
}

// Runner turns Amperity webhook requests into batches for a Sink. It is
// safe for concurrent use; each Handle call is one job.
type Runner struct {
	cfg Config
	log *slog.Logger

	frontDoorDown sync.Once // logs once that the front door fell back
}

// New validates cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Runner{cfg: cfg, log: cfg.Logger}, nil
}

// Summary describes a finished job.
type Summary struct {
	State         State  `json:"state"`
	Reason        string `json:"reason,omitempty"`
	Records       int64  `json:"records"`        // records read (after BatchOffset)
	Sent          int64  `json:"records_sent"`   // records the sink accepted
	Failed        int64  `json:"records_failed"` // invalid lines and records the sink refused
	Batches       int    `json:"batches"`
	FailedBatches int    `json:"batches_failed"`
	Errors        int64  `json:"errors"`
	Bytes         int64  `json:"bytes_read"`
	Duration      string `json:"duration"`
}

func (s Summary) String() string {
	return fmt.Sprintf("%d records sent in %d batches, %d records failed, %d errors, %d bytes read in %s",
		s.Sent, s.Batches, s.Failed, s.Errors, s.Bytes, s.Duration)
}

// newReporter builds the status reporter for req.
func (r *Runner) newReporter(req Request) *reporter {
	tenant := req.TenantID
	if tenant == "" {
		tenant = r.cfg.TenantID
	}
	return &reporter{
		client:   r.cfg.HTTPClient,
		url:      req.statusURL(),
		tenant:   tenant,
		token:    req.AccessToken,
		interval: r.cfg.StatusInterval,
		retry:    newRetrier(r.cfg.StatusRetry, r.cfg.Clock, r.cfg.Jitter),
		log:      r.log.With("webhook_id", req.WebhookID),
	}
}
