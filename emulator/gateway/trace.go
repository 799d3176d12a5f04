package gateway

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxRecursion is how many Lambda-to-Lambda hops AWS lets one request
// chain make before it stops the loop (about 16), unless the function's
// recursive loop setting is Allow.
const maxRecursion = 16

// traceFields splits an X-Amzn-Trace-Id header into its fields.
func traceFields(h string) map[string]string {
	if u, err := url.PathUnescape(h); err == nil {
		h = u
	}
	fields := map[string]string{}
	for _, part := range strings.Split(h, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			fields[k] = v
		}
	}
	return fields
}

// nextTrace gives the trace header of an invocation caused by a request
// carrying incoming, and how many Lambda-to-Lambda hops the chain has
// made. Handlers pass their trace on when they invoke (the AWS SDKs copy
// _X_AMZN_TRACE_ID, which aws-lambda-go sets, into X-Amzn-Trace-Id); the
// gateway counts the hops in a Lineage field, as AWS does.
func nextTrace(incoming string) (string, int) {
	fresh := newTraceID()
	if incoming == "" {
		return fresh, 0
	}
	f := traceFields(incoming)
	root := f["Root"]
	if root == "" {
		return fresh, 0
	}
	hops := 0
	if lineage, ok := f["Lineage"]; ok {
		if _, count, ok := strings.Cut(lineage, ":"); ok {
			n, _ := strconv.Atoi(count)
			hops = n + 1
		}
	}
	parent := strings.ReplaceAll(newID(), "-", "")[:16]
	return fmt.Sprintf("Root=%s;Parent=%s;Sampled=0;Lineage=%s:%d", root, parent, lineageID(root), hops), hops
}

// lineageID is a short stable id for a trace root.
func lineageID(root string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(root); i++ {
		h = (h ^ uint32(root[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

// RecursionError is an invocation dropped because its request chain looped
// through Lambda more than AWS allows.
type RecursionError struct {
	Function string
	Hops     int
}

func (e *RecursionError) Error() string {
	return fmt.Sprintf("recursive loop detected: invocation of %s would be Lambda-to-Lambda hop %d in one request chain; dropped, as AWS Lambda does after %d. "+
		"If the loop is intended (a job that continues itself), set LAMBDA_RECURSIVE_LOOP=Allow in handlers/%s/.env (RecursiveLoop: Allow in the SAM template)",
		e.Function, e.Hops, maxRecursion, e.Function)
}

// newTraceID starts a trace, as Lambda passes it to a function, at hop 0.
func newTraceID() string {
	id := strings.ReplaceAll(newID(), "-", "")
	root := fmt.Sprintf("1-%08x-%s", time.Now().Unix(), id[:24])
	return fmt.Sprintf("Root=%s;Parent=%s;Sampled=0;Lineage=%s:0", root, id[16:32], lineageID(root))
}
