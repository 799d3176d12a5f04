package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrFunctionNotFound is returned for a name with no handler directory.
var ErrFunctionNotFound = errors.New("function not found")

// InvokeOptions are the optional parts of an invocation.
type InvokeOptions struct {
	Async         bool   // recorded in the history; the caller does not wait
	TraceID       string // X-Amzn-Trace-Id of the request, which may come from another invocation
	ClientContext string // JSON client context, passed to the function
}

// Invoke runs one event through the named function and waits for its
// result. The error is non-nil only when the function could not run at
// all: unknown (ErrFunctionNotFound), not compiling (*BuildError) or ctx
// done; a function that ran and failed gives a Result with Err set.
func (g *Gateway) Invoke(ctx context.Context, name string, payload []byte, opts InvokeOptions) (Result, error) {
	f := g.function(name)
	if f == nil {
		return Result{}, fmt.Errorf("%w: %s", ErrFunctionNotFound, name)
	}
	reqID := newID()
	start := time.Now()
	record := func(res Result, cold bool) Result {
		res.RequestID = reqID
		res.Duration = time.Since(start)
		errText := ""
		if res.Err != nil {
			errText = res.Err.Error()
		}
		g.history.add(Invocation{Function: name, RequestID: reqID, Start: start, Duration: float64(res.Duration.Microseconds()) / 1000,
			Outcome: res.Outcome, Error: errText, Async: opts.Async, Cold: cold, LogTail: tail(res.Logs, logTailBytes)})
		g.changed("invocation", name)
		return res
	}

	timeout := f.timeout()
	traceID, hops := nextTrace(opts.TraceID)
	if hops > maxRecursion && !strings.EqualFold(g.fileEnv(name)["LAMBDA_RECURSIVE_LOOP"], "Allow") {
		err := &RecursionError{Function: name, Hops: hops}
		g.terminal(fmt.Sprintf("%s %s | %v", name, reqID[:8], err))
		record(Result{Outcome: OutcomeDropped, Err: &FunctionError{Type: "RecursiveInvocationException", Message: err.Error()}}, false)
		return Result{RequestID: reqID}, err
	}
	var (
		inst    *instance
		cold    bool
		inv     *invocation
		reply   invokeReply
		outcome string
	)
	invokeStart := time.Now()
	// Twice at most: a process taken from the idle pool may have died
	// since, and then the event goes to a fresh one.
	for attempt := 0; ; attempt++ {
		var ferr *FunctionError
		var initLogs string
		var err error
		inst, cold, ferr, initLogs, err = f.acquire(ctx)
		if err != nil {
			var berr *BuildError
			if errors.As(err, &berr) {
				record(Result{Outcome: OutcomeBuildError, Err: &FunctionError{Type: "Devserver.BuildError", Message: berr.Error()}, Logs: berr.Output}, false)
			}
			return Result{RequestID: reqID}, err
		}
		if ferr != nil {
			if out := strings.TrimSpace(tail(initLogs, 2<<10)); out != "" {
				ferr.Message += "\nLast output:\n" + out
			}
			g.terminal(fmt.Sprintf("%s %s | init failed: %s", name, reqID[:8], firstLine(ferr.Error())))
			return record(Result{Outcome: OutcomeInitError, Err: ferr, Logs: initLogs}, true), nil
		}
		inv = &invocation{id: reqID, function: name, payload: payload, deadline: time.Now().Add(timeout),
			traceID: traceID, clientContext: opts.ClientContext, result: make(chan invokeReply, 1)}
		if cold {
			for _, line := range strings.Split(strings.TrimRight(inst.initLogText(), "\n"), "\n") {
				if line != "" {
					inv.logLine(line)
				}
			}
		}
		g.logBoth(inv, fmt.Sprintf("START RequestId: %s Version: $LATEST", reqID))
		invokeStart = time.Now()
		reply, outcome, err = inst.invoke(inv)
		if err == nil || attempt == 1 {
			break
		}
		f.release(inst)
	}
	defer f.release(inst)
	inst.drainOutput()
	if outcome == "" {
		reply, outcome = invokeReply{err: inst.exitError(inv)}, OutcomeCrash
	}
	took := time.Since(invokeStart)
	if reply.err != nil {
		g.logBoth(inv, fmt.Sprintf("%s: %s", reply.err.Type, firstLine(reply.err.Message)))
	}
	g.logBoth(inv, fmt.Sprintf("END RequestId: %s", reqID))
	report := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 512 MB\tMax Memory Used: %d MB",
		reqID, float64(took.Microseconds())/1000, billed(took), inst.maxRSS())
	if cold {
		report += fmt.Sprintf("\tInit Duration: %.2f ms", float64(inst.initDur.Microseconds())/1000)
	}
	if outcome == OutcomeTimeout {
		report += "\tStatus: timeout"
	}
	g.logBoth(inv, report)
	return record(Result{Payload: reply.payload, Err: reply.err, Outcome: outcome, Logs: inv.logText()}, cold), nil
}

// logBoth writes a runtime line to the terminal and the invocation's log.
func (g *Gateway) logBoth(inv *invocation, line string) {
	inv.logLine(line)
	g.terminal(fmt.Sprintf("%s %s | %s", inv.function, inv.id[:8], line))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
