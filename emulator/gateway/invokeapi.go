package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Lambda's payload limits.
const (
	maxSyncPayload  = 6 << 20
	maxAsyncPayload = 1 << 20
)

// invokeAPI is POST /2015-03-31/functions/{name}/invocations, Lambda's
// Invoke API, so the AWS SDKs and CLI can invoke handlers.
func (g *Gateway) invokeAPI(w http.ResponseWriter, r *http.Request) {
	name := functionName(chi.URLParam(r, "name"))
	f := g.function(name)
	if f == nil {
		awsError(w, http.StatusNotFound, "ResourceNotFoundException",
			fmt.Sprintf("Function not found: arn:aws:lambda:%s:000000000000:function:%s (handlers: %s)", g.region(), name, strings.Join(g.Handlers(), ", ")))
		return
	}
	kind := r.Header.Get("X-Amz-Invocation-Type")
	if kind == "" {
		kind = "RequestResponse"
	}
	limit := maxSyncPayload
	if kind == "Event" {
		limit = maxAsyncPayload
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		awsError(w, http.StatusBadRequest, "InvalidRequestContentException", "reading payload: "+err.Error())
		return
	}
	if len(payload) > limit {
		awsError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the %s invocation type", limit, kind))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		awsError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	clientContext := ""
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		dec, err := base64.StdEncoding.DecodeString(cc)
		if err != nil {
			awsError(w, http.StatusBadRequest, "InvalidRequestContentException", "X-Amz-Client-Context is not base64")
			return
		}
		clientContext = string(dec)
	}
	opts := InvokeOptions{TraceID: r.Header.Get("X-Amzn-Trace-Id"), ClientContext: clientContext}

	switch kind {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
	case "Event":
		opts.Async = true
		g.bg.Add(1)
		go func() {
			defer g.bg.Done()
			var rerr *RecursionError
			if _, err := g.Invoke(g.ctx, name, payload, opts); err != nil && !errors.Is(err, context.Canceled) && !errors.As(err, &rerr) {
				g.terminal(fmt.Sprintf("%s | asynchronous invocation not run: %v", name, err))
			}
		}()
		w.Header().Set("X-Amzn-RequestId", newID())
		w.WriteHeader(http.StatusAccepted)
	case "RequestResponse":
		res, err := g.Invoke(r.Context(), name, payload, opts)
		var berr *BuildError
		var rerr *RecursionError
		switch {
		case errors.As(err, &rerr):
			awsError(w, http.StatusBadRequest, "RecursiveInvocationException", rerr.Error())
			return
		case errors.As(err, &berr):
			// Like a function whose deployment package is broken.
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Header().Set("X-Amz-Executed-Version", "$LATEST")
			writeJSON(w, http.StatusOK, FunctionError{Type: "Runtime.BuildError", Message: berr.Error()})
			return
		case err != nil:
			awsError(w, http.StatusServiceUnavailable, "ServiceException", err.Error())
			return
		}
		w.Header().Set("X-Amzn-RequestId", res.RequestID)
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		if r.Header.Get("X-Amz-Log-Type") == "Tail" {
			w.Header().Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(tail(res.Logs, 4096))))
		}
		if res.Err != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			writeJSON(w, http.StatusOK, res.Err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(res.Payload)
	default:
		awsError(w, http.StatusBadRequest, "InvalidParameterValueException", "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun")
	}
}

// functionName accepts a name, a name:qualifier, or a function ARN.
func functionName(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	if i := strings.Index(s, ":function:"); i >= 0 {
		s = s[i+len(":function:"):]
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// awsError answers in the AWS JSON error shape the SDKs decode.
func awsError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": msg, "message": msg, "__type": typ})
}

// ServeHTTP routes the gateway's endpoints.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.routes.ServeHTTP(w, r) }

func (g *Gateway) newRouter() http.Handler {
	r := chi.NewRouter()
	r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "handlers": g.Handlers()})
	})
	r.HandleFunc("/lambda/{name}", g.proxy)
	r.HandleFunc("/lambda/{name}/*", g.proxy)
	r.Post("/2015-03-31/functions/{name}/invocations", g.invokeAPI)
	r.Get("/api/invocations", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"invocations": g.Invocations(), "build_errors": g.BuildErrors()})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "no route " + r.Method + " " + r.URL.Path,
			"routes":   []string{"POST /lambda/{name}", "POST /2015-03-31/functions/{name}/invocations", "GET /health", "GET /api/invocations"},
			"handlers": g.Handlers()})
	})
	return r
}
