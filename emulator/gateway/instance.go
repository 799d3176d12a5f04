package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// initTimeout is how long a process may take to ask for its first event,
// as Lambda allows.
const initTimeout = 10 * time.Second

// maxResponse is the largest synchronous response Lambda accepts.
const maxResponse = 6 << 20

// instance is one handler process and the Runtime API it talks to. It runs
// one invocation at a time.
type instance struct {
	fn      *function
	gen     int    // build generation of its binary
	binary  string // path of the binary it runs
	id      string
	cmd     *exec.Cmd
	ln      net.Listener
	srv     *http.Server
	started time.Time

	ready     chan struct{} // closed at the first GET .../next
	readyOnce sync.Once
	exited    chan struct{} // closed when the process has exited
	exitErr   error
	work      chan *invocation // hands an event to a waiting GET .../next
	initErr   chan *FunctionError
	outputs   []*output // stdout and stderr

	mu       sync.Mutex
	current  *invocation // the invocation logs are attributed to
	initLogs strings.Builder
	lastUsed time.Time
	initDur  time.Duration
}

// startInstance launches the function's binary against a fresh Runtime API
// listener and waits until it asks for its first event.
func (f *function) startInstance(ctx context.Context, binary string, gen int) (*instance, *FunctionError, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, &FunctionError{Type: "Runtime.Unknown", Message: "runtime API listener: " + err.Error()}, ""
	}
	inst := &instance{
		fn: f, gen: gen, binary: binary, id: newID()[:8], ln: ln, started: time.Now(),
		ready: make(chan struct{}), exited: make(chan struct{}),
		work: make(chan *invocation), initErr: make(chan *FunctionError, 1),
	}
	inst.srv = &http.Server{Handler: inst.runtimeAPI(), ReadHeaderTimeout: 10 * time.Second}
	go inst.srv.Serve(ln)

	env, err := f.g.environment(f.name, ln.Addr().String(), inst.id)
	if err != nil {
		inst.shutdown()
		return nil, &FunctionError{Type: "Runtime.InvalidEnvironment", Message: err.Error()}, ""
	}
	cmd := exec.Command(binary)
	cmd.Env = env
	cmd.Dir = f.g.cfg.Root
	isolate(cmd)
	stdout, err := newOutput(cmd, &cmd.Stdout)
	if err != nil {
		inst.shutdown()
		return nil, &FunctionError{Type: "Runtime.Unknown", Message: err.Error()}, ""
	}
	stderr, err := newOutput(cmd, &cmd.Stderr)
	if err != nil {
		stdout.close()
		inst.shutdown()
		return nil, &FunctionError{Type: "Runtime.Unknown", Message: err.Error()}, ""
	}
	inst.outputs = []*output{stdout, stderr}
	err = cmd.Start()
	stdout.parentDone()
	stderr.parentDone()
	if err != nil {
		stdout.close()
		stderr.close()
		inst.shutdown()
		return nil, &FunctionError{Type: "Runtime.InvalidEntrypoint", Message: err.Error()}, ""
	}
	inst.cmd = cmd
	var pumps sync.WaitGroup
	pumps.Add(2)
	go inst.pump(stdout, &pumps)
	go inst.pump(stderr, &pumps)
	go func() {
		pumps.Wait() // the output is complete before the exit is announced
		inst.exitErr = cmd.Wait()
		close(inst.exited)
		inst.shutdown()
	}()

	timer := time.NewTimer(initTimeout)
	defer timer.Stop()
	select {
	case <-inst.ready:
		inst.initDur = time.Since(inst.started)
		return inst, nil, ""
	case ferr := <-inst.initErr:
		inst.stop()
		<-inst.exited
		return nil, ferr, inst.initLogText()
	case <-inst.exited:
		return nil, &FunctionError{Type: "Runtime.ExitError",
			Message: fmt.Sprintf("Runtime exited before its first invocation: %s", exitText(inst.exitErr))}, inst.initLogText()
	case <-timer.C:
		inst.stop()
		<-inst.exited
		return nil, &FunctionError{Type: "Runtime.InitTimeout", Message: fmt.Sprintf("Init did not finish within %s", initTimeout)}, inst.initLogText()
	case <-ctx.Done():
		inst.stop()
		return nil, &FunctionError{Type: "Runtime.Cancelled", Message: context.Cause(ctx).Error()}, ""
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func (inst *instance) initLogText() string {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return inst.initLogs.String()
}

// pump copies a process's output to the terminal, prefixed, and into the
// current invocation's log.
func (inst *instance) pump(out *output, wg *sync.WaitGroup) {
	defer wg.Done()
	defer out.close()
	sc := bufio.NewScanner(out.r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		inst.mu.Lock()
		inv := inst.current
		if inv == nil && inst.initLogs.Len() < maxInvocationLog {
			inst.initLogs.WriteString(line)
			inst.initLogs.WriteByte('\n')
		}
		inst.mu.Unlock()
		reqID := "init"
		if inv != nil {
			inv.logLine(line)
			reqID = inv.id[:8]
		}
		inst.fn.g.terminal(fmt.Sprintf("%s %s | %s", inst.fn.name, reqID, line))
		out.consumed(len(line) + 1)
	}
	io.Copy(io.Discard, out.r)
}

// drainOutput waits until the lines the process wrote before now have
// been read into the current invocation's log: pipes are read by other
// goroutines, and a reply can arrive before the log lines written ahead
// of it have been read.
func (inst *instance) drainOutput() {
	for _, out := range inst.outputs {
		out.drain(100 * time.Millisecond)
	}
}

// alive reports whether the process is still running.
func (inst *instance) alive() bool {
	select {
	case <-inst.exited:
		return false
	default:
		return true
	}
}

// stop kills the process.
func (inst *instance) stop() {
	if inst.cmd != nil {
		kill(inst.cmd)
	}
}

// shutdown closes the Runtime API listener.
func (inst *instance) shutdown() {
	inst.srv.Close()
}

// errNotDelivered is returned when the process died before taking the
// event: an idle process can exit at any time (a handler that panicked
// reports its error, then exits), and that is not the new event's fault.
var errNotDelivered = errors.New("process exited before taking the event")

// invoke runs one invocation and waits for its reply, the process's death
// or the deadline.
func (inst *instance) invoke(inv *invocation) (invokeReply, string, error) {
	inst.mu.Lock()
	inst.current = inv
	inst.mu.Unlock()
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case inst.work <- inv:
	case <-inst.exited:
		return invokeReply{}, "", errNotDelivered
	case <-timer.C:
		inst.stop()
		return invokeReply{err: timeoutError(inst.fn.timeout())}, OutcomeTimeout, nil
	}
	select {
	case rep := <-inv.result:
		return rep, replyOutcome(rep), nil
	case <-inst.exited:
		// A reply posted just before exiting still counts.
		select {
		case rep := <-inv.result:
			return rep, replyOutcome(rep), nil
		default:
		}
		return invokeReply{err: inst.exitError(inv)}, OutcomeCrash, nil
	case <-timer.C:
		inst.stop()
		<-inst.exited
		return invokeReply{err: timeoutError(inst.fn.timeout())}, OutcomeTimeout, nil
	}
}

func replyOutcome(rep invokeReply) string {
	if rep.err != nil {
		return OutcomeError
	}
	return OutcomeSuccess
}

// exitError describes a process that died during inv, with the end of its
// output, as Lambda's Runtime.ExitError.
func (inst *instance) exitError(inv *invocation) *FunctionError {
	out := strings.TrimSpace(tail(inv.logText(), 2<<10))
	msg := fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", inv.id, exitText(inst.exitErr))
	if out != "" {
		msg += "\nLast output:\n" + out
	}
	return &FunctionError{Type: "Runtime.ExitError", Message: msg}
}

// runtimeAPI serves the Lambda Runtime API for this instance.
func (inst *instance) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", inst.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", inst.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", inst.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", inst.initError)
	return mux
}

func (inst *instance) next(w http.ResponseWriter, r *http.Request) {
	inst.readyOnce.Do(func() { close(inst.ready) })
	select {
	case inv := <-inst.work:
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", inst.fn.arn())
		h.Set("Lambda-Runtime-Trace-Id", inv.traceID)
		if inv.clientContext != "" {
			h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
		}
		w.WriteHeader(http.StatusOK)
		w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

// lookup finds the invocation a Runtime API call refers to.
func (inst *instance) lookup(w http.ResponseWriter, r *http.Request) *invocation {
	inst.mu.Lock()
	inv := inst.current
	inst.mu.Unlock()
	if inv == nil || inv.id != r.PathValue("id") {
		writeRuntimeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation "+r.PathValue("id")+" in progress")
		return nil
	}
	return inv
}

func (inst *instance) response(w http.ResponseWriter, r *http.Request) {
	inv := inst.lookup(w, r)
	if inv == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponse+1))
	reply := invokeReply{payload: body}
	switch {
	case err != nil:
		reply = invokeReply{err: &FunctionError{Type: "Runtime.ResponseError", Message: err.Error()}}
	case len(body) > maxResponse:
		reply = invokeReply{err: &FunctionError{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponse)}}
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// The function failed while streaming its response.
		reply = invokeReply{err: trailerError(r.Trailer)}
	}
	select {
	case inv.result <- reply:
	default:
	}
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"status":"OK"}`))
}

func trailerError(t http.Header) *FunctionError {
	fe := &FunctionError{Type: t.Get("Lambda-Runtime-Function-Error-Type")}
	if body, err := base64.StdEncoding.DecodeString(t.Get("Lambda-Runtime-Function-Error-Body")); err == nil {
		json.Unmarshal(body, fe)
	}
	return fe
}

// readFunctionError reads an error posted by the runtime.
func readFunctionError(r *http.Request) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fe := &FunctionError{}
	if err := json.Unmarshal(body, fe); err != nil || (fe.Message == "" && fe.Type == "") {
		fe = &FunctionError{Message: strings.TrimSpace(string(body))}
	}
	if t := r.Header.Get("Lambda-Runtime-Function-Error-Type"); t != "" && fe.Type == "" {
		fe.Type = t
	}
	if fe.Type == "" {
		fe.Type = "Function.Error"
	}
	return fe
}

func (inst *instance) invocationError(w http.ResponseWriter, r *http.Request) {
	inv := inst.lookup(w, r)
	if inv == nil {
		return
	}
	select {
	case inv.result <- invokeReply{err: readFunctionError(r)}:
	default:
	}
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"status":"OK"}`))
}

func (inst *instance) initError(w http.ResponseWriter, r *http.Request) {
	select {
	case inst.initErr <- readFunctionError(r):
	default:
	}
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte(`{"status":"OK"}`))
}

func writeRuntimeError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

// maxRSS reads the process's peak resident memory in MB (Linux), 0 when
// unknown.
func (inst *instance) maxRSS() int {
	if inst.cmd == nil || inst.cmd.Process == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", inst.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return (kb + 1023) / 1024
		}
	}
	return 0
}
