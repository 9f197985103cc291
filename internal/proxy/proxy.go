// Package proxy is the reverse proxy that puts the engine in front of an API:
// request → identity → records → engine → action.
package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Options configure a Proxy.
type Options struct {
	Upstream     *url.URL
	Resolver     *identity.Resolver
	Catalog      *records.Catalog
	Engine       *engine.Engine
	Metrics      *Metrics
	Log          *slog.Logger // operational log (not decisions)
	Now          func() time.Time
	MaxBodyBytes int64
	Transport    http.RoundTripper // default: NewTransport(30s, 512)
}

// Proxy is an http.Handler that forwards to the upstream and meters what it serves.
type Proxy struct {
	o     Options
	rp    *httputil.ReverseProxy
	pool  sync.Pool
	gzips sync.Pool
}

type ctxKey struct{}

// exchange is one request's state, pooled.
type exchange struct {
	actor    identity.Actor
	match    records.Match
	status   int
	json     bool
	scan     bool
	gzip     bool
	inspect  bool
	over     bool
	complete bool
	buf      []byte
	recs     []records.Found
}

// NewTransport returns an upstream transport tuned for a proxy: Go's default
// keeps 2 idle connections per host, which halves throughput under load.
func NewTransport(timeout time.Duration, idle int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
}

// New returns a Proxy.
func New(o Options) *Proxy {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Transport == nil {
		o.Transport = NewTransport(30*time.Second, 512)
	}
	p := &Proxy{o: o}
	p.pool.New = func() any { return &exchange{} }
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(o.Upstream)
			pr.SetXForwarded()
		},
		Transport:      o.Transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		BufferPool:     newBufferPool(),
		ErrorLog:       slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	return p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	now := p.o.Now()
	x := p.pool.Get().(*exchange)
	x.actor = p.o.Resolver.Identify(r)
	x.match = p.o.Catalog.Match(r.Method, r.URL.Path)
	route := ""
	if x.match.Matched() {
		route = p.o.Catalog.RouteName(x.match.Route())
	}
	v := p.o.Engine.Admit(now, &x.actor, route)
	p.o.Metrics.verdict(v)
	if v.Enforced() {
		p.release(x)
		p.o.Metrics.latency.Observe(time.Since(start).Seconds())
		deny(w, v)
		return
	}
	spent := time.Since(start)
	// Deferred: ReverseProxy aborts a failed body copy by panicking with
	// http.ErrAbortHandler, and what was served until then still counts.
	defer func() {
		start := time.Now()
		p.observe(now, x, route)
		p.release(x)
		p.o.Metrics.latency.Observe((spent + time.Since(start)).Seconds())
	}()
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, x)))
}

func (p *Proxy) release(x *exchange) {
	buf, recs := x.buf[:0], x.recs[:0]
	if cap(buf) > 256<<10 {
		buf = nil // do not pin large buffers in the pool
	}
	*x = exchange{buf: buf, recs: recs}
	p.pool.Put(x)
}

func deny(w http.ResponseWriter, v engine.Verdict) {
	secs := int64((v.RetryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Cache-Control", "no-store")
	if v.Action == engine.Throttle {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"too many requests","retry_after":`+strconv.FormatInt(secs, 10)+"}\n")
		return
	}
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, `{"error":"forbidden","retry_after":`+strconv.FormatInt(secs, 10)+"}\n")
}

// modifyResponse decides whether to inspect the body and, if so, tees it.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	x, _ := resp.Request.Context().Value(ctxKey{}).(*exchange)
	if x == nil {
		return nil
	}
	x.status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Request.Method == http.MethodHead {
		return nil
	}
	json, scan := p.o.Catalog.BodyWant(&x.match, resp.Header.Get("Content-Type"))
	if !json && !scan {
		if x.match.Matched() && p.o.Catalog.WantsJSON(&x.match) {
			p.o.Metrics.skipped.WithLabelValues(skipNotJSON).Inc()
		}
		return nil
	}
	switch resp.Header.Get("Content-Encoding") {
	case "", "identity":
	case "gzip", "x-gzip":
		x.gzip = true
	default:
		p.o.Metrics.skipped.WithLabelValues(skipEncoding).Inc()
		return nil
	}
	if resp.ContentLength > p.o.MaxBodyBytes {
		p.o.Metrics.skipped.WithLabelValues(skipOversized).Inc()
		return nil
	}
	x.json, x.scan, x.inspect = json, scan, true
	resp.Body = &tee{rc: resp.Body, x: x, max: p.o.MaxBodyBytes}
	return nil
}

// tee copies what the client is sent into the exchange's buffer, up to max.
type tee struct {
	rc  io.ReadCloser
	x   *exchange
	max int64
}

func (t *tee) Read(b []byte) (int, error) {
	n, err := t.rc.Read(b)
	if n > 0 && !t.x.over {
		if int64(len(t.x.buf)+n) > t.max {
			t.x.over = true
		} else {
			t.x.buf = append(t.x.buf, b[:n]...)
		}
	}
	if err == io.EOF {
		t.x.complete = true
	}
	return n, err
}

func (t *tee) Close() error { return t.rc.Close() }

// observe works out the records served and hands them to the engine.
func (p *Proxy) observe(now time.Time, x *exchange, route string) {
	recs := x.recs[:0]
	ok := x.status >= 200 && x.status <= 299
	if ok {
		recs = p.o.Catalog.PathRecords(&x.match, recs)
	}
	if ok && x.inspect {
		body, reason := p.body(x)
		if reason != "" {
			p.o.Metrics.skipped.WithLabelValues(reason).Inc()
		} else {
			var outcome records.BodyOutcome
			recs, outcome = p.o.Catalog.BodyRecords(&x.match, body, x.json, x.scan, recs)
			if outcome == records.BodyMalformed {
				p.o.Metrics.skipped.WithLabelValues(skipMalformed).Inc()
			}
		}
	}
	if len(recs) > 0 {
		var per [16]float64 // one atomic add per entity, not per record
		for _, r := range recs {
			if r.Entity < len(per) {
				per[r.Entity]++
			} else {
				p.o.Metrics.recordsBy[r.Entity].Inc()
			}
		}
		for e, n := range per[:min(len(per), len(p.o.Metrics.recordsBy))] {
			if n > 0 {
				p.o.Metrics.recordsBy[e].Add(n)
			}
		}
	}
	x.recs = recs
	miss := x.match.Matched() && x.status >= 400 && x.status <= 499
	p.o.Engine.Observe(now, &x.actor, engine.Exchange{Route: route, Records: recs, Miss: miss})
}

// body returns the inspected body, decompressed, or why it was skipped.
func (p *Proxy) body(x *exchange) ([]byte, string) {
	switch {
	case x.over:
		return nil, skipOversized
	case !x.complete:
		return nil, skipIncomplete
	case !x.gzip:
		return x.buf, ""
	}
	zr, _ := p.gzips.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(x.buf))
	} else {
		err = zr.Reset(bytes.NewReader(x.buf))
	}
	if err != nil {
		return nil, skipMalformed
	}
	defer p.gzips.Put(zr)
	// Decompress into a fresh buffer, bounded: a gzip bomb stops at max.
	out := bytes.NewBuffer(make([]byte, 0, 4*len(x.buf)))
	n, err := io.Copy(out, io.LimitReader(zr, p.o.MaxBodyBytes+1))
	if err != nil {
		return nil, skipMalformed
	}
	if n > p.o.MaxBodyBytes {
		return nil, skipOversized
	}
	return out.Bytes(), ""
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		// the client went away; nothing to answer and nothing wrong upstream
		w.WriteHeader(499)
		return
	}
	p.o.Metrics.upstreamEr.Inc()
	p.o.Log.Warn("upstream unreachable or failed; answered 502", "upstream", p.o.Upstream.Redacted(), "method", r.Method, "error", err)
	if x, _ := r.Context().Value(ctxKey{}).(*exchange); x != nil {
		x.status = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, `{"error":"bad gateway"}`+"\n")
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{ p *sync.Pool }

func newBufferPool() bufferPool {
	return bufferPool{&sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b bufferPool) Get() []byte    { return *(b.p.Get().(*[]byte)) }
func (b bufferPool) Put(buf []byte) { b.p.Put(&buf) }
