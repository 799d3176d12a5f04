package gateway

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-chi/chi/v5"
)

// maxProxyBody is API Gateway's payload limit.
const maxProxyBody = 10 << 20

// proxy is POST /lambda/{name}: the HTTP request becomes an API Gateway
// REST proxy event, and the function's proxy response becomes the HTTP
// response, as API Gateway's Lambda proxy integration does.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProxyBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "reading request body: " + err.Error()})
		return
	}
	if len(body) > maxProxyBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Too Long: API Gateway accepts at most 10 MB"})
		return
	}
	event := proxyEvent(r, name, body)
	payload, _ := json.Marshal(event)
	res, err := g.Invoke(r.Context(), name, payload, InvokeOptions{TraceID: r.Header.Get("X-Amzn-Trace-Id")})
	if err != nil {
		g.writeInvokeFailure(w, name, err)
		return
	}
	if res.Err != nil {
		// API Gateway hides the cause; the devserver shows it, since the
		// person reading it wrote the function.
		writeJSON(w, http.StatusBadGateway, map[string]any{"message": "Internal server error", "request_id": res.RequestID,
			"error": res.Err, "outcome": res.Outcome})
		return
	}
	var resp events.APIGatewayProxyResponse
	if err := decodeProxyResponse(res.Payload, &resp); err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"message": "Internal server error", "request_id": res.RequestID,
			"error": "Malformed Lambda proxy response: " + err.Error()})
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("X-Amzn-RequestId", res.RequestID)
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		dec, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]any{"message": "Internal server error", "error": "isBase64Encoded body does not decode: " + err.Error()})
			return
		}
		out = dec
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

// decodeProxyResponse checks a function's answer is a proxy response.
func decodeProxyResponse(payload []byte, resp *events.APIGatewayProxyResponse) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(payload, &probe); err != nil {
		return errors.New("the function's answer is not a JSON object")
	}
	if _, ok := probe["statusCode"]; !ok {
		return errors.New("the function's answer has no statusCode")
	}
	if err := json.Unmarshal(payload, resp); err != nil {
		return err
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return errors.New("statusCode is not an HTTP status")
	}
	return nil
}

// proxyEvent builds the REST API proxy event API Gateway would send.
func proxyEvent(r *http.Request, name string, body []byte) events.APIGatewayProxyRequest {
	headers := map[string]string{}
	multi := map[string][]string{}
	for k, vs := range r.Header {
		headers[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	query := map[string]string{}
	multiQuery := map[string][]string{}
	for k, vs := range r.URL.Query() {
		query[k] = vs[len(vs)-1]
		multiQuery[k] = vs
	}
	proxyPath := chi.URLParam(r, "*")
	resource := "/lambda/" + name
	params := map[string]string(nil)
	if proxyPath != "" {
		resource += "/{proxy+}"
		params = map[string]string{"proxy": proxyPath}
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev := events.APIGatewayProxyRequest{
		Resource: resource, Path: r.URL.Path, HTTPMethod: r.Method,
		Headers: headers, MultiValueHeaders: multi,
		QueryStringParameters: query, MultiValueQueryStringParameters: multiQuery,
		PathParameters: params,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: "000000000000", ResourcePath: resource, Stage: "local", RequestID: newID(),
			HTTPMethod: r.Method, Path: "/local" + r.URL.Path, Protocol: r.Proto, APIID: "devserver",
			RequestTimeEpoch: time.Now().UnixMilli(), RequestTime: time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			Identity: events.APIGatewayRequestIdentity{SourceIP: ip, UserAgent: r.UserAgent()},
		},
	}
	if utf8.Valid(body) && !isBinaryType(r.Header.Get("Content-Type")) {
		ev.Body = string(body)
	} else {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return ev
}

func isBinaryType(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "application/octet-stream") || strings.HasPrefix(ct, "image/") ||
		strings.HasPrefix(ct, "application/zip") || strings.HasPrefix(ct, "application/gzip")
}

// writeInvokeFailure answers for a function that could not run.
func (g *Gateway) writeInvokeFailure(w http.ResponseWriter, name string, err error) {
	var berr *BuildError
	switch {
	case errors.Is(err, ErrFunctionNotFound):
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "no handler named " + quote(name) + " (a handler is a directory handlers/<name> with a main package)",
			"handlers": g.Handlers()})
	case errors.As(err, &berr):
		writeJSON(w, http.StatusBadGateway, map[string]any{"message": "handlers/" + name + " does not compile", "build_output": berr.Output})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": err.Error()})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
