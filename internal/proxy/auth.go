package proxy

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
)

// Paths of the auth endpoint's listener.
const (
	// AuthPath answers an edge's question "may this request be served?".
	AuthPath = "/auth"
	// RefusedPath renders a refusal the edge could not pass on: nginx's
	// auth_request turns any answer but 2xx, 401 and 403 into a 500, and
	// passes a 403 without its headers, so its error_page asks here for
	// the 429 (throttle), the challenge, or the 403 with Retry-After.
	RefusedPath = "/refused"
)

// Headers an edge sets on its requests to the auth endpoint.
var (
	originalURIHeaders    = []string{"X-Original-Uri", "X-Forwarded-Uri"}
	originalMethodHeaders = []string{"X-Original-Method", "X-Forwarded-Method"}
)

// Headers an edge passes to RefusedPath: what the auth endpoint answered.
const (
	hdrRefusedStatus    = "Leakguard-Status"
	hdrRefusedRetry     = "Leakguard-Retry-After"
	hdrRefusedChallenge = "Leakguard-Challenge"
)

// Auth returns the handler of the auth endpoint, for an edge that asks
// per request (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz in
// HTTP mode) instead of forwarding through the proxy. It serves:
//
//   - AuthPath: the original request is rebuilt from X-Original-Method or
//     X-Forwarded-Method and X-Original-URI or X-Forwarded-Uri, the client
//     from the same headers as the proxy reads (X-Forwarded-For believed
//     only from identity.trusted_proxies, cookies, account headers), and
//     admitted by the proxy's own path (Proxy.admit). It answers 200 to
//     allow, 403 to block, 429 with Retry-After to throttle or challenge
//     (the challenge page or JSON, as the proxy's), 503 while record routes
//     are refused for unreachable state. An allowed request's
//     path-identified records are metered at once: the edge serves it and
//     the endpoint never sees the response, so records found only in
//     bodies are not counted here, and neither are misses (4xx).
//   - RefusedPath: the 429 or challenge that nginx could not pass on, and
//     the 403 with its Retry-After (nginx passes the status alone).
//   - ChallengePath (POST): a solved challenge, as on the proxy.
//
// A decoy verdict is a block here: the edge's responses cannot be
// rewritten. Method overrides are honoured for matching: the edge passes
// them on to the upstream.
func (p *Proxy) Auth() http.Handler {
	return http.HandlerFunc(p.serveAuth)
}

func (p *Proxy) serveAuth(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == AuthPath:
		p.authorize(w, r)
	case r.URL.Path == RefusedPath:
		p.refused(w, r)
	case r.URL.Path == ChallengePath && r.Method == http.MethodPost && p.o.Challenger != nil:
		a := p.o.Resolver.Identify(r)
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		p.o.Challenger.Submit(w, r, &a)
	default:
		http.NotFound(w, r)
	}
}

// original rebuilds the request the edge is asking about from the auth
// request's headers; when it cannot, why says what the edge sent wrong.
func original(r *http.Request) (o *http.Request, why string) {
	uri, agree := originalValue(r.Header, originalURIHeaders, false)
	if !agree {
		return nil, "X-Original-URI and X-Forwarded-Uri name different URIs: one was sent by the client"
	}
	if uri == "" {
		return nil, "the edge sent no X-Original-URI or X-Forwarded-Uri"
	}
	if uri[0] != '/' {
		return nil, "the edge's X-Original-URI or X-Forwarded-Uri is not a path starting with /"
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, "the edge's X-Original-URI or X-Forwarded-Uri is not a valid request URI"
	}
	method, agree := originalValue(r.Header, originalMethodHeaders, true)
	if !agree {
		return nil, "X-Original-Method and X-Forwarded-Method name different methods: one was sent by the client"
	}
	method = strings.ToUpper(method)
	if method == "" {
		method = r.Method
	}
	o = new(http.Request)
	*o = *r
	o.Method, o.URL, o.RequestURI = method, u, uri
	// What the edge added to ask is not the client's: left in, it would
	// change the client's fingerprint from the proxy's view of it.
	o.Header = r.Header.Clone()
	for _, h := range [...]string{"X-Original-Uri", "X-Original-Method", "X-Forwarded-Uri", "X-Forwarded-Method",
		hdrRefusedStatus, hdrRefusedRetry, hdrRefusedChallenge} {
		o.Header.Del(h)
	}
	return o, ""
}

// originalValue is the value the edge gives under names (nginx's header
// or Traefik's), and whether every line of them agrees (fold: in any
// case). Each edge sets its own and passes the client's other on:
// Traefik copies every client header to its ForwardAuth request, so a
// client's X-Original-URI came before Traefik's X-Forwarded-Uri, and the
// endpoint was asked about any page the client named instead of the
// record it was served. A disagreement is answered 400.
func originalValue(h http.Header, names []string, fold bool) (v string, agree bool) {
	for _, n := range names {
		for _, s := range h.Values(n) {
			switch s = strings.TrimSpace(s); {
			case s == "":
			case v == "":
				v = s
			case s != v && !(fold && strings.EqualFold(s, v)):
				return "", false
			}
		}
	}
	return v, true
}

func noOriginal(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	b, _ := json.Marshal(map[string]string{"error": why})
	w.Write(append(b, '\n'))
}

// clip is at most n bytes of s, for a log line.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (p *Proxy) authorize(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	now := p.o.Now()
	o, why := original(r)
	if o == nil {
		// A misconfigured edge: refusing makes it show at once, where
		// allowing would meter nothing and protect nothing.
		if ok, held := p.badAuth.Allow(time.Now()); ok {
			p.o.Log.Warn("auth request without a usable original URI; answered 400 (said at most once a minute)", "why", why, "uri", clip(r.URL.RequestURI(), 256), "held_back", held)
		}
		noOriginal(w, why)
		return
	}
	x := p.pool.Get().(*exchange)
	x.actor = p.o.Resolver.Identify(o)
	alts, ok := p.o.Resolver.Alternates(o, &x.actor)
	if !ok {
		p.release(x)
		deny(w, engine.Verdict{Action: engine.Block, RetryAfter: time.Second})
		return
	}
	route, v, unavailable := p.admit(now, o, x, false, !p.o.LogMetered)
	// The account or session sent again with another value: the edge
	// passes them all on, and the upstream may read any one (the proxy
	// forwards only the first). Each must be admitted, and each is metered.
	var more []*exchange
	for _, alt := range alts {
		if unavailable || v.Enforced() || v.Decoyed() {
			break
		}
		y := p.pool.Get().(*exchange)
		y.actor = alt
		_, v, _ = p.admit(now, o, y, false, false)
		more = append(more, y)
		if v.Enforced() || v.Decoyed() {
			x, y = y, x // refused as the actor that was: its challenge, its verdict
			more[len(more)-1] = y
		}
	}
	defer func() {
		for _, y := range more {
			p.release(y)
		}
	}()
	if unavailable {
		p.release(x)
		p.o.Metrics.outcome["state_unavailable"].Inc()
		w.Header().Set("Retry-After", "5")
		http.Error(w, `{"error":"service temporarily unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	if v.Decoyed() {
		v.Action = engine.Block // an edge's responses cannot be rewritten
	}
	p.o.Metrics.verdict(v)
	p.crewRefused(now, x, route, v)
	if v.Enforced() {
		p.o.Metrics.latency.Observe(time.Since(start).Seconds())
		if v.Action == engine.Challenge && p.o.Challenger != nil {
			p.o.Challenger.Issue(w, o, &x.actor, retrySecs(v))
		} else {
			deny(w, v)
		}
		p.release(x)
		return
	}
	if !p.o.LogMetered {
		// Served as far as the endpoint can tell: the path's records count now.
		x.status = http.StatusOK
		p.observe(now, x, route)
		for _, y := range more {
			if route != "" {
				recs := p.o.Catalog.PathRecords(&y.match, y.recs[:0])
				y.recs = recs
				p.pipe.Observe(now, &y.actor, engine.Exchange{Route: route, Records: recs, Signals: y.signals})
			}
		}
	}
	p.release(x)
	p.o.Metrics.latency.Observe(time.Since(start).Seconds())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// refused answers for nginx what its auth_request could not pass on, from
// what the auth endpoint answered (headers the edge copies from it). It
// grants nothing: a forged header only earns its sender a refusal.
func (p *Proxy) refused(w http.ResponseWriter, r *http.Request) {
	o, why := original(r)
	if o == nil {
		noOriginal(w, why)
		return
	}
	const maxRetry = 366 * 24 * 3600
	secs, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get(hdrRefusedRetry)), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && secs > 0:
		secs = maxRetry // past int64: the longest, not the shortest
	case err != nil || secs < 1:
		secs = 1
	}
	secs = min(secs, maxRetry)
	status := strings.TrimSpace(r.Header.Get(hdrRefusedStatus))
	switch {
	case r.Header.Get(hdrRefusedChallenge) != "" && p.o.Challenger != nil:
		a := p.o.Resolver.Identify(o)
		p.o.Challenger.Issue(w, o, &a, secs)
	case status == "429":
		deny(w, engine.Verdict{Action: engine.Throttle, RetryAfter: time.Duration(secs) * time.Second})
	case status == "403":
		deny(w, engine.Verdict{Action: engine.Block, RetryAfter: time.Duration(secs) * time.Second})
	case status == "503":
		w.Header().Set("Retry-After", "5")
		http.Error(w, `{"error":"service temporarily unavailable"}`, http.StatusServiceUnavailable)
	default:
		// The auth endpoint failed or could not be reached: nginx's 500
		// stands (the edge fails closed).
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"authorization unavailable"}`+"\n")
	}
}
