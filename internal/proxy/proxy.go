// Package proxy is the reverse proxy that puts the engine in front of an API:
// request → identity → records → engine → action.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/lograte"
	"github.com/leakguard/leakguard/internal/pipeline"
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
	// FailClosed, if set and true at a request, refuses record routes with
	// 503: the shared state is unreachable and the operator chose
	// "fail: closed" over serving records on local counts alone.
	FailClosed func() bool
	// CrewRefused, if set, is told of each request refused (or, in
	// shadow mode, that would be) under a sanction on a crew key: the
	// decision line names the crew and the request that tripped it, not
	// who else it holds (an outside red team's people refused under the
	// sweepers' crew had no line of their own, 40 of 42; 2026-12-06).
	CrewRefused func(now time.Time, a *identity.Actor, route string, v engine.Verdict)
	// Detector and UA turn what a request shows into signals; without
	// them the engine sees none.
	Detector *detect.Detector
	UA       *detect.UAClassifier
	// Challenger issues the challenge action's proof of work; without it
	// a challenge is a plain 429.
	Challenger *Challenger
	// Decoys replaces personal data in responses to decoyed actors;
	// without it a decoy verdict is a block.
	Decoys *canary.Maker
	// Sprinkle adds canary elements to a share of responses on routes, by
	// route name; Ledger records every canary served (decoys too).
	Sprinkle map[string]Sprinkle
	Ledger   *canary.Ledger

	// UpstreamBodyTimeout bounds the time from an upstream's response
	// headers to the end of its body (default 5m): a drip is cut there.
	UpstreamBodyTimeout time.Duration
	// MaxUpstreamBodyBytes bounds a body as the upstream sends it, coded
	// (default 1 GiB): an endless body is cut there.
	MaxUpstreamBodyBytes int64
	// MaxDecodedBodyBytes bounds what each content coding of a body
	// decodes to (default 1 GiB): a decompression bomb is cut there.
	MaxDecodedBodyBytes int64
	// StripMethodOverrides removes method-override headers and _method
	// query parameters before the upstream sees them. Left in, they are
	// honoured for matching: a request counts under either method.
	StripMethodOverrides bool
	// LogMetered says the edge's access log meters what it served (the
	// proxy's follow section): the auth endpoint then admits on
	// sanctions, budgets already exceeded and challenge passes alone, and
	// neither assesses signals nor meters, so no request counts twice.
	LogMetered bool
	// InFlightPerKey and InFlightPerAddress cap the record requests a
	// session or account, and an address, has in flight at once; past
	// them a request waits up to InFlightWait for one of the key's own to
	// be metered (defaults 8, 64 and 30 s; negative: no cap).
	InFlightPerKey     int
	InFlightPerAddress int
	InFlightWait       time.Duration
}

// Defaults of the body bounds.
const (
	DefaultUpstreamBodyTimeout  = 5 * time.Minute
	DefaultMaxUpstreamBodyBytes = 1 << 30
	DefaultMaxDecodedBodyBytes  = 1 << 30
	DefaultInFlightPerKey       = 8
	DefaultInFlightPerAddress   = 64
	DefaultInFlightWait         = 30 * time.Second
)

// Sprinkle is one route's canary sprinkle: gjson path of the array, and
// the share of responses that get a canary element.
type Sprinkle struct {
	Path string
	Rate float64
}

// Proxy is an http.Handler that forwards to the upstream and meters what it serves.
type Proxy struct {
	o       Options
	pipe    pipeline.Pipeline
	rp      *httputil.ReverseProxy
	pool    sync.Pool
	dec     decoders
	scratch bufferPool
	flight  *inFlight
	// badAuth rate-limits the warning of auth requests the edge sent
	// without a usable original URI.
	badAuth lograte.Limiter
}

type ctxKey struct{}

// exchange is one request's state, pooled.
type exchange struct {
	actor    identity.Actor
	client   *clientBody // the request's body, if it has one
	match    records.Match
	status   int
	json     bool
	scan     bool
	inspect  bool
	complete bool
	broken   bool // a coded body that would not decode
	buf      []byte
	recs     []records.Found
	// a body too large to keep whole is inspected as it streams
	stream    *records.BodyStream
	streamed  []records.Found
	compactAt int
	accept    accept
	bodyJSON  bool // the matched route takes records from a JSON body
	cut       *cutState
	timer     *time.Timer
	cancel    context.CancelFunc
	signals   detect.Signals
	// forward: the request goes on to the upstream, whose answer this
	// proxy sees (not an auth_request's); page: an HTML page that counts
	// for the detector once served (detect.Traits.Unserved), about the
	// item pathID
	forward bool
	page    bool
	pathID  int
	// names: the served page's scan for the items it names, until it is
	// noted (body.see)
	names    *detect.NameScanner
	decoy    bool
	decoyKey identity.Key
	sprinkle string // gjson path of the array to sprinkle a canary into
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
		// The proxy chooses what to ask for and decodes it itself: Go's
		// transparent gzip inflates bodies for clients that never asked.
		DisableCompression: true,
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
	if o.UpstreamBodyTimeout <= 0 {
		o.UpstreamBodyTimeout = DefaultUpstreamBodyTimeout
	}
	if o.MaxUpstreamBodyBytes <= 0 {
		o.MaxUpstreamBodyBytes = DefaultMaxUpstreamBodyBytes
	}
	if o.MaxDecodedBodyBytes <= 0 {
		o.MaxDecodedBodyBytes = DefaultMaxDecodedBodyBytes
	}
	o.InFlightPerKey = orDefault(o.InFlightPerKey, DefaultInFlightPerKey)
	o.InFlightPerAddress = orDefault(o.InFlightPerAddress, DefaultInFlightPerAddress)
	if o.InFlightWait <= 0 {
		o.InFlightWait = DefaultInFlightWait
	}
	p := &Proxy{o: o, pipe: pipeline.Pipeline{Detector: o.Detector, Engine: o.Engine}, scratch: newBufferPool(),
		flight: newInFlight(o.InFlightPerKey, o.InFlightPerAddress, o.InFlightWait)}
	p.pool.New = func() any { return &exchange{} }
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(o.Upstream)
			pr.SetXForwarded()
			x, _ := pr.In.Context().Value(ctxKey{}).(*exchange)
			if x == nil {
				return
			}
			// Ask only for codings the proxy decodes (and the client takes).
			if x.decoy || x.sprinkle != "" {
				pr.Out.Header.Set("Accept-Encoding", "identity") // decoys rewrite the body in place
			} else {
				pr.Out.Header.Set("Accept-Encoding", x.accept.upstream())
			}
			if x.bodyJSON {
				// A range of a JSON page is a fragment no JSONPath can
				// read: the whole page is asked for, which RFC 9110 allows.
				pr.Out.Header.Del("Range")
				pr.Out.Header.Del("If-Range")
			}
			if o.StripMethodOverrides {
				stripOverrides(pr.Out)
			}
			o.Resolver.Forward(pr.Out.Header)
			// The body timer cancels the upstream request to cut a body
			// whose reads would otherwise block for as long as it drips.
			ctx, cancel := context.WithCancel(pr.Out.Context())
			x.cancel = cancel
			pr.Out = pr.Out.WithContext(ctx)
		},
		Transport:      o.Transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		BufferPool:     newBufferPool(),
		ErrorLog:       slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	return p
}

// orDefault is n, def for 0, and 0 (none) for a negative n.
func orDefault(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect || r.Method == "PRI" {
		// Not a request for the upstream: CONNECT asks for a tunnel, PRI
		// is an HTTP/2 preface on an HTTP/1 connection. Forwarded, they
		// reached it as "CONNECT /" and "PRI /%2A" (found by a probe).
		w.Header().Set("Connection", "close")
		http.Error(w, `{"error":"method not allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	start := time.Now()
	x := p.pool.Get().(*exchange)
	if r.Body != nil && r.Body != http.NoBody {
		x.client = &clientBody{ReadCloser: r.Body}
		r.Body = x.client
	}
	x.actor = p.o.Resolver.Identify(r)
	if p.o.Challenger != nil && r.URL.Path == ChallengePath && r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		p.o.Challenger.Submit(w, r, &x.actor)
		p.release(x)
		return
	}
	route := p.route(r, x, p.o.StripMethodOverrides)
	if route != "" {
		done, waited, err := p.flight.acquire(r.Context(), &x.actor)
		if waited {
			p.o.Metrics.inFlightWaits.Inc()
		}
		if err != nil {
			p.release(x)
			if errors.Is(err, errInFlight) {
				p.o.Metrics.outcome["in_flight"].Inc()
				w.Header().Set("Retry-After", "1")
				http.Error(w, `{"error":"too many requests in flight"}`, http.StatusTooManyRequests)
			}
			return
		}
		// Runs after the deferred metering below: the slot frees once
		// this request's records are counted.
		defer done()
	}
	now := p.o.Now() // after any wait: the request is admitted now
	x.forward = true
	v, unavailable := p.decide(now, r, x, route, true)
	if unavailable {
		p.release(x)
		p.o.Metrics.outcome["state_unavailable"].Inc()
		w.Header().Set("Retry-After", "5")
		http.Error(w, `{"error":"service temporarily unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	x.accept = parseAcceptEncoding(r.Header.Values("Accept-Encoding"))
	x.bodyJSON = x.match.Matched() && p.o.Catalog.WantsJSON(&x.match)
	if v.Decoyed() {
		if p.o.Decoys == nil {
			v.Action = engine.Block
		} else {
			x.decoy, x.decoyKey = true, v.Key
		}
	}
	p.o.Metrics.verdict(v)
	p.crewRefused(now, x, route, v)
	if sp, ok := p.o.Sprinkle[route]; ok && !x.decoy && p.o.Decoys != nil && rand.Float64() < sp.Rate {
		x.sprinkle = sp.Path
	}
	if v.Enforced() || (v.Decoyed() && !x.decoy) {
		p.o.Metrics.latency.Observe(time.Since(start).Seconds())
		if v.Action == engine.Challenge && p.o.Challenger != nil {
			p.o.Challenger.Issue(w, r, &x.actor, retrySecs(v))
		} else {
			deny(w, v)
		}
		p.release(x)
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

// admit is the one path from a request to a verdict, shared by the proxy
// and its auth endpoint: match the route (as the method override says,
// unless overrides are stripped), assess the detector's signals, honour a
// challenge already passed, and ask the engine. stripped says method
// overrides never reach the upstream. x.actor is the request's actor;
// admit sets x.match and x.signals. unavailable reports a record
// route refused because the shared state is unreachable (state.fail:
// closed), before the engine is asked. assess false leaves the detector
// out: another source (the edge's log) gives it each request once.
func (p *Proxy) admit(now time.Time, r *http.Request, x *exchange, stripped, assess bool) (route string, v engine.Verdict, unavailable bool) {
	route = p.route(r, x, stripped)
	v, unavailable = p.decide(now, r, x, route, assess)
	return route, v, unavailable
}

// route matches r's record route, setting x.match: the name, or "".
func (p *Proxy) route(r *http.Request, x *exchange, stripped bool) string {
	x.match = p.o.Catalog.Match(r.Method, r.URL.Path)
	if ov := overrideMethod(r); ov != "" && !stripped && !x.match.Matched() {
		// An upstream that honours the override serves that method.
		x.match = p.o.Catalog.Match(ov, r.URL.Path)
	}
	if x.match.Matched() {
		return p.o.Catalog.RouteName(x.match.Route())
	}
	return ""
}

// decide is admit past the route's match.
func (p *Proxy) decide(now time.Time, r *http.Request, x *exchange, route string, assess bool) (v engine.Verdict, unavailable bool) {
	if route != "" && p.o.FailClosed != nil && p.o.FailClosed() {
		return v, true
	}
	var traits *detect.Traits
	if p.o.Detector != nil && assess {
		addr, _ := p.o.Resolver.ClientAddr(r)
		kind := detect.KindOf(route != "", r.Method, r.URL.Path, r.Header.Get("Accept"))

		// Without a session source every request lacks a session, and
		// anonymous people of one browser build were one crew.
		x.page, x.pathID = kind == detect.Page && x.forward, detect.PathID(r.URL.Path)
		traits = &detect.Traits{Kind: kind, UA: p.o.UA.Classify(r.UserAgent()), Addr: addr, At: now.UnixNano(), NoSessions: !p.o.Resolver.SeesSessions(),
			IDLow: x.match.IDLow(), PathID: x.pathID, Unserved: x.page, Route: x.match.Route() + 1, MissingBrowserHeaders: r.Header.Get("Accept-Language") == "", Lookup: p.lookupHash(r, &x.match),
			App: p.o.Detector.App(r.UserAgent())}
	}
	passed := p.o.Challenger != nil && p.o.Challenger.Passed(r, &x.actor)
	v = p.pipe.Admit(now, &x.actor, traits, route, passed)
	x.signals = v.Signals
	return v, false
}

func (p *Proxy) lookupHash(r *http.Request, m *records.Match) uint64 {
	param := p.o.Catalog.LookupParam(m)
	if param == "" {
		return 0
	}
	return p.o.Catalog.LookupHash(r.URL.Query().Get(param))
}

func (p *Proxy) release(x *exchange) {
	if x.timer != nil {
		x.timer.Stop()
	}
	if x.cancel != nil {
		x.cancel()
	}
	buf, recs := x.buf[:0], x.recs[:0]
	if cap(buf) > 256<<10 {
		buf = nil // do not pin large buffers in the pool
	}
	if cap(recs) > 64<<10 {
		recs = nil
	}
	streamed := x.streamed[:0]
	if cap(streamed) > 64<<10 {
		streamed = nil
	}
	*x = exchange{buf: buf, recs: recs, streamed: streamed}
	p.pool.Put(x)
}

// crewRefused tells Options.CrewRefused of a refusal (or a would-be one)
// under a crew's sanction.
func (p *Proxy) crewRefused(now time.Time, x *exchange, route string, v engine.Verdict) {
	if p.o.CrewRefused != nil && v.Action >= engine.Throttle && v.Key.Kind == identity.Crew {
		p.o.CrewRefused(now, &x.actor, route, v)
	}
}

func retrySecs(v engine.Verdict) int64 {
	return max(int64((v.RetryAfter+time.Second-1)/time.Second), 1)
}

func deny(w http.ResponseWriter, v engine.Verdict) {
	secs := retrySecs(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Cache-Control", "no-store")
	if v.Action == engine.Throttle || v.Action == engine.Challenge {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"too many requests","retry_after":`+strconv.FormatInt(secs, 10)+"}\n")
		return
	}
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, `{"error":"forbidden","retry_after":`+strconv.FormatInt(secs, 10)+"}\n")
}

// modifyResponse bounds the upstream body and, where records may be in
// it, puts the inspector between upstream and client.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.StatusCode < 100 || resp.StatusCode > 999 {
		// net/http panics writing it: the client's connection was dropped
		// with no answer, and the panic logged at debug (found by a probe).
		return fmt.Errorf("upstream answered status %d, which is not an HTTP status", resp.StatusCode)
	}
	x, _ := resp.Request.Context().Value(ctxKey{}).(*exchange)
	if x == nil {
		return nil
	}
	x.status = resp.StatusCode
	if x.page && (resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotModified) {
		// Before a byte of it reaches the client, which then asks
		// about the page's item.
		p.o.Detector.PageServed(&x.actor, x.pathID)
		if resp.StatusCode/100 == 2 && htmlType(resp.Header.Get("Content-Type")) {
			x.names = new(detect.NameScanner)
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (WebSocket) is the client's and the
		// upstream's from here: ReverseProxy needs the body as it came
		// to copy both ways, and nothing in it is read or metered.
		return nil
	}
	x.cut = &cutState{}
	if resp.ContentLength > p.o.MaxUpstreamBodyBytes {
		x.cut.set(cutSize)
		return errBodyTooLarge
	}
	cut, cancel := x.cut, x.cancel
	x.timer = time.AfterFunc(p.o.UpstreamBodyTimeout, func() {
		cut.set(cutTimeout)
		if cancel != nil {
			cancel()
		}
	})
	resp.Body = &upstreamBody{rc: resp.Body, max: p.o.MaxUpstreamBodyBytes, cut: x.cut}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Request.Method == http.MethodHead {
		return p.recode(resp, x, false)
	}
	if x.decoy {
		return p.decoy(resp, x)
	}
	if x.sprinkle != "" {
		if err := p.sprinkle(resp, x); err != nil || x.inspect {
			return err
		}
	}
	json, scan := p.o.Catalog.BodyWant(&x.match, resp.Header.Get("Content-Type"))
	if !json && !scan {
		if x.match.Matched() && p.o.Catalog.WantsJSON(&x.match) {
			p.o.Metrics.skipped.WithLabelValues(skipNotJSON).Inc()
		}
		return p.recode(resp, x, false)
	}
	x.json, x.scan, x.inspect = json, scan, true
	return p.recode(resp, x, true)
}

// htmlType reports whether a Content-Type is an HTML page's.
func htmlType(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "application/xhtml+xml")
}

// recode puts a body reader in place: inspecting, decoding for a client
// that does not take the upstream's coding, or both. A coding the proxy
// cannot decode is refused where the body needs inspecting or the client
// did not ask for it: nothing is passed on unread.
func (p *Proxy) recode(resp *http.Response, x *exchange, inspect bool) error {
	cs, known := parseContentEncoding(resp.Header.Values("Content-Encoding"))
	if !known {
		if inspect || x.accept.present {
			x.cut.set(cutEncoding)
			return errBodyEncoding
		}
		return nil
	}
	decode := !x.accept.acceptsAll(cs)
	if !inspect && !decode && x.names == nil {
		return nil
	}
	if decode {
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	resp.Body = &body{p: p, x: x, up: resp.Body, codings: cs, inspect: inspect, decode: decode}
	return nil
}

// decoy replaces the personal data in a decoyed actor's response with
// synthetic values derived for it. A body too large to rewrite, or encoded,
// is refused rather than passed through; so is one for which the bytes the
// proxy holds whole (heldBudget) have no room: each decoyed response is
// read whole, and a decoyed scraper's connections that do not read held
// up to max_body_bytes each, outside any bound.
func (p *Proxy) decoy(resp *http.Response, x *exchange) error {
	body, reserve, room, err := p.readHeld(resp, 1)
	resp.Body.Close()
	if cs, known := parseContentEncoding(resp.Header.Values("Content-Encoding")); !room || err != nil || int64(len(body)) > p.o.MaxBodyBytes || !known || len(cs) > 0 {
		p.dec.held.give(reserve)
		reserve = 0
		body = []byte(`{"error":"forbidden"}` + "\n")
		resp.StatusCode, resp.Status = http.StatusForbidden, "403 Forbidden"
		resp.Header.Set("Content-Type", "application/json")
		resp.Header.Del("Content-Encoding")
		x.status = http.StatusForbidden
	} else {
		// Record identifiers first (their spans come from the JSON), then
		// every personal value: both in place, so the JSON stays valid.
		type span struct{ start, end int }
		var ids []span
		p.o.Catalog.BodyIDSpans(&x.match, body, func(start, end int) { ids = append(ids, span{start, end}) })
		for _, sp := range ids {
			copy(body[sp.start:sp.end], p.o.Decoys.ReplaceID(body[sp.start:sp.end], x.decoyKey))
		}
		p.o.Decoys.Body(body, x.decoyKey)
		p.o.Metrics.outcome["decoyed"].Inc()
		p.issue(x, body)
	}
	resp.Body = p.heldUntilClosed(bytes.NewReader(body), io.NopCloser(nil), reserve, int64(cap(body)))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// readHeld reads resp's body whole, up to max_body_bytes and one byte
// (a decoy's, a sprinkled one), taking room in the held budget as it
// grows, copies times its size. As a body off the record routes, within
// half the budget: what the proxy rewrites never moves the inspected
// bodies off the faster whole-body path. Without room it stops and
// reports false (counted in held.full) with what it has read; taken is
// the room taken either way.
func (p *Proxy) readHeld(resp *http.Response, copies int64) (buf []byte, taken int64, room bool, err error) {
	limit := p.o.MaxBodyBytes + 1
	c := int64(4096)
	if resp.ContentLength >= 0 {
		c = resp.ContentLength + 1 // the byte past it reads the end
	}
	c = min(c, limit)
	for {
		if int64(len(buf)) == c || buf == nil {
			if int64(len(buf)) >= limit {
				return buf, taken, true, nil
			}
			if buf != nil {
				c = min(2*c, limit)
			}
			if !p.dec.held.take((c-int64(cap(buf)))*copies, true) {
				p.dec.held.full.Add(1)
				return buf, taken, false, nil
			}
			taken += (c - int64(cap(buf))) * copies
			grown := make([]byte, len(buf), c)
			copy(grown, buf)
			buf = grown
		}
		n, err := resp.Body.Read(buf[len(buf):c])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, taken, true, nil
		}
		if err != nil {
			return buf, taken, true, err
		}
	}
}

// heldUntilClosed is a body of bytes read whole, reserved in the held
// budget: it keeps n of the reserve until the body is closed (ReverseProxy
// closes it once the client has it, or is gone), and gives the rest back
// now.
func (p *Proxy) heldUntilClosed(r io.Reader, c io.Closer, reserve, n int64) io.ReadCloser {
	n = min(n, reserve)
	p.dec.held.give(reserve - n)
	return &heldBody{Reader: r, c: c, give: func() { p.dec.held.give(n) }}
}

type heldBody struct {
	io.Reader
	c    io.Closer
	once sync.Once
	give func()
}

func (h *heldBody) Close() error {
	h.once.Do(h.give)
	return h.c.Close()
}

// issue records the canaries (personal values) in body as served to x's actor.
func (p *Proxy) issue(x *exchange, body []byte) {
	if p.o.Ledger == nil {
		return
	}
	at := p.o.Now().UnixNano()
	var out []canary.Issued
	p.o.Decoys.Scan(body, func(k records.Kind, h uint64) {
		out = append(out, canary.Issued{Kind: k, Hash: h, Actor: x.actor, At: at})
	})
	p.o.Ledger.Issue(out...)
}

var sprinkleSeq atomic.Uint64

// suspectSignals mark a request as a suspected scraper's for the timeline.
const suspectSignals = detect.AutomationUA | detect.UnverifiedBot | detect.Sessionless | detect.NoAssets | detect.Enumeration |
	detect.ColdSweep | detect.MachineTiming | detect.SequentialIDs | detect.HeaderMismatch | detect.UnshownLookups | detect.StrangerCrowd

// sprinkle adds a canary element to the response, and inspects the real
// body for records as usual (it is read whole here, so nothing is teed).
func (p *Proxy) sprinkle(resp *http.Response, x *exchange) error {
	if cs, known := parseContentEncoding(resp.Header.Values("Content-Encoding")); !known || len(cs) > 0 || resp.ContentLength > p.o.MaxBodyBytes {
		return nil // leave it alone: the normal path inspects (or skips) it
	}
	// Read whole, it is held twice (the body sent and the one inspected),
	// within the held budget as the bodies kept whole for inspection are:
	// sprinkles are a share of every client's responses on their route.
	orig := resp.Body
	body, reserve, room, err := p.readHeld(resp, 2)
	if err != nil {
		p.dec.held.give(reserve)
		return err
	}
	if !room || int64(len(body)) > p.o.MaxBodyBytes {
		// Too large to rewrite, or no room to: pass it on whole, read
		// part and rest, inspected on the normal path.
		resp.Body = p.heldUntilClosed(io.MultiReader(bytes.NewReader(body), orig), orig, reserve, int64(cap(body)))
		return nil
	}
	orig.Close()
	out := body
	{
		key := x.actor.Keys[identity.IP]
		var canaries []records.Found
		var ok bool
		if out, canaries, ok = p.o.Decoys.Sprinkle(body, x.sprinkle, key, sprinkleSeq.Add(1)); ok && p.o.Ledger != nil {
			at := p.o.Now().UnixNano()
			issued := make([]canary.Issued, 0, len(canaries))
			for _, c := range canaries {
				issued = append(issued, canary.Issued{Kind: records.Kind(c.Entity), Hash: c.Hash, Actor: x.actor, At: at})
			}
			p.o.Ledger.Issue(issued...)
		}
		// the real records served are the original body's
		json, scan := p.o.Catalog.BodyWant(&x.match, resp.Header.Get("Content-Type"))
		x.json, x.scan, x.inspect, x.complete = json, scan, json || scan, true
		x.buf = append(x.buf[:0], body...)
	}
	// The body sent, and x.buf until the exchange is observed, which
	// follows the close at once; the canary's few bytes past the reserve
	// are counted whatever the room, so that they are given back as taken.
	held := int64(len(out) + cap(x.buf))
	if held > reserve {
		p.dec.held.n.Add(held - reserve)
		reserve = held
	}
	resp.Body = p.heldUntilClosed(bytes.NewReader(out), io.NopCloser(nil), reserve, held)
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// observe works out the records served and hands them to the engine.
func (p *Proxy) observe(now time.Time, x *exchange, route string) {
	recs := x.recs[:0]
	ok := x.status >= 200 && x.status <= 299 && !x.decoy // a decoyed actor was served nothing real
	if ok {
		recs = p.o.Catalog.PathRecords(&x.match, recs)
	}
	if ok && x.inspect {
		// What reached the client counts, cut short or not.
		var outcome records.BodyOutcome
		if x.stream != nil {
			outcome = x.stream.Close()
			x.compact()
			recs = append(recs, x.streamed...)
		} else {
			recs, outcome = p.o.Catalog.BodyRecords(&x.match, x.buf, x.json, x.scan, recs)
		}
		switch {
		case x.broken:
			p.o.Metrics.skipped.WithLabelValues(skipMalformed).Inc()
		case !x.complete:
			p.o.Metrics.skipped.WithLabelValues(skipIncomplete).Inc()
		case outcome == records.BodyMalformed:
			p.o.Metrics.skipped.WithLabelValues(skipMalformed).Inc()
		case outcome == records.BodyPhonesUnchecked:
			// A streamed body's is counted as its scan closes (body.go).
			p.o.Metrics.skipped.WithLabelValues(skipPhonesUnchecked).Inc()
		}
	}
	if x.cut != nil {
		if r := x.cut.reason.Load(); r != cutNone {
			p.o.Metrics.cut.WithLabelValues(cutReasons[r]).Inc()
		}
	}
	p.o.Metrics.Served(recs, x.signals)
	x.recs = recs
	miss := x.match.Matched() && x.status >= 400 && x.status <= 499
	p.pipe.Observe(now, &x.actor, engine.Exchange{Route: route, Records: recs, Miss: miss, Signals: x.signals})
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		// the client went away; nothing to answer and nothing wrong upstream
		w.WriteHeader(499)
		return
	}
	x, _ := r.Context().Value(ctxKey{}).(*exchange)
	if x != nil && x.client != nil && x.client.failed() != nil {
		// The client's body broke off or was malformed (a bad chunk
		// size): its fault, not the upstream's. Answered 502 and counted
		// as an upstream error, any client could raise that alert.
		p.o.Log.Debug("client's request body unreadable; answered 400", "method", r.Method, "error", x.client.failed())
		if x != nil {
			x.status = http.StatusBadRequest
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"bad request body"}`+"\n")
		return
	}
	if x != nil && x.cut != nil && x.cut.reason.Load() != cutNone {
		// refused for a limit or a coding: the upstream answered
		p.o.Log.Warn("upstream body refused; answered 502", "method", r.Method, "error", err)
		x.status = http.StatusBadGateway
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, `{"error":"bad gateway"}`+"\n")
		return
	}
	p.o.Metrics.upstreamEr.Inc()
	p.o.Log.Warn("upstream unreachable or failed; answered 502", "upstream", p.o.Upstream.Redacted(), "method", r.Method, "error", err)
	if x != nil {
		x.status = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, `{"error":"bad gateway"}`+"\n")
}

// clientBody is a request's body as the client sends it, keeping the
// error that ended it, if any, so that errorHandler can tell a client's
// broken body from an upstream's failure.
// The transport reads it on a goroutine of its own.
type clientBody struct {
	io.ReadCloser
	err atomic.Pointer[error]
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

// failed is the error that ended the body early, or nil.
func (b *clientBody) failed() error {
	if e := b.err.Load(); e != nil {
		return *e
	}
	return nil
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{ p *sync.Pool }

func newBufferPool() bufferPool {
	return bufferPool{&sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b bufferPool) Get() []byte    { return *(b.p.Get().(*[]byte)) }
func (b bufferPool) Put(buf []byte) { b.p.Put(&buf) }
