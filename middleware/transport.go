package middleware

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// nextKey carries the wrapped handler and the request as it arrived from
// Handler, through the proxy, to the transport.
type nextKey struct{}

type call struct {
	next http.Handler
	in   *http.Request
}

// handlerTransport is the proxy's upstream transport: it serves a request
// by calling the wrapped handler in-process, and hands the proxy the
// response as it is written, through a pipe, so bodies stream as they
// would from a network upstream (the proxy inspects and bounds them the
// same way).
type handlerTransport struct {
	log *slog.Logger
}

var _ http.RoundTripper = (*handlerTransport)(nil)

func (t *handlerTransport) RoundTrip(out *http.Request) (*http.Response, error) {
	c, _ := out.Context().Value(nextKey{}).(*call)
	if c == nil {
		return nil, errNoHandler
	}
	in := out.Clone(out.Context())
	// A server-side request: origin-form URL, the client's Host and
	// address, as the handler would see them without the middleware.
	in.URL = &url.URL{Path: out.URL.Path, RawPath: out.URL.RawPath, RawQuery: out.URL.RawQuery}
	in.RequestURI = in.URL.RequestURI()
	in.Host = c.in.Host
	in.RemoteAddr, in.TLS = c.in.RemoteAddr, c.in.TLS
	in.Proto, in.ProtoMajor, in.ProtoMinor = c.in.Proto, c.in.ProtoMajor, c.in.ProtoMinor
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, pr: pr, req: out, ready: make(chan *http.Response, 1)}
	go t.serve(c.next, w, in)
	select {
	case resp := <-w.ready:
		if resp == nil {
			return nil, w.failure
		}
		return resp, nil
	case <-out.Context().Done():
		// The handler's writes fail from here on; it finishes on its own.
		pr.CloseWithError(out.Context().Err())
		return nil, out.Context().Err()
	}
}

// serve runs the handler. A panic is the handler's failure, not the
// process's: the proxy answers 502 if nothing was sent yet, and otherwise
// the body is cut where it stopped (net/http's server would drop the
// connection likewise).
func (t *handlerTransport) serve(next http.Handler, w *pipeWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("middleware: handler panicked: %v", v)
			if v != http.ErrAbortHandler {
				t.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
			}
			w.fail(err)
			return
		}
		w.finish()
	}()
	next.ServeHTTP(w, r)
}

// pipeWriter is the handler's http.ResponseWriter: the status and header
// become the proxy's *http.Response at the first write, the body a pipe.
type pipeWriter struct {
	header  http.Header
	pw      *io.PipeWriter
	pr      *io.PipeReader
	req     *http.Request
	ready   chan *http.Response
	once    sync.Once
	failure error
	sent    bool // headers handed to the proxy (only the handler's goroutine reads it)
}

var (
	_ http.ResponseWriter = (*pipeWriter)(nil)
	_ http.Flusher        = (*pipeWriter)(nil)
)

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if w.sent || code < 200 {
		// 1xx are informational: the final status follows.
		return
	}
	w.sent = true
	h := w.header.Clone()
	cl := int64(-1)
	if v := h.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			cl = n
		}
	}
	w.once.Do(func() {
		w.ready <- &http.Response{
			Status: strconv.Itoa(code) + " " + http.StatusText(code), StatusCode: code,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: h, Body: w.pr, ContentLength: cl, Request: w.req,
		}
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	if !w.sent {
		// As net/http's server: an unset Content-Type is sniffed, which
		// decides whether the proxy reads the body as JSON.
		if _, ok := w.header["Content-Type"]; !ok && w.header.Get("Transfer-Encoding") == "" && len(b) > 0 {
			w.header.Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.pw.Write(b)
}

// Flush is a no-op: the pipe hands every write to the proxy as it is made.
func (w *pipeWriter) Flush() {}

// finish ends a response the handler returned from.
func (w *pipeWriter) finish() {
	if !w.sent {
		if _, ok := w.header["Content-Length"]; !ok {
			w.header.Set("Content-Length", "0")
		}
		w.WriteHeader(http.StatusOK)
	}
	w.pw.Close()
}

// fail ends a response whose handler panicked.
func (w *pipeWriter) fail(err error) {
	w.pw.CloseWithError(err)
	w.once.Do(func() {
		w.failure = err
		w.ready <- nil
	})
}
