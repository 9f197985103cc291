// Package middleware puts leakguard in front of any net/http handler, in
// the same process: it meters the distinct personal records each actor is
// served (from the path and from response bodies, PII included) and
// enforces the policy of a leakguard configuration file (budgets, the
// default policy, risk bands, rules), exactly as `leakguard proxy` does.
//
//	mw, err := middleware.Load("leakguard.yaml", middleware.Options{})
//	if err != nil { ... }
//	defer mw.Close()
//	http.ListenAndServe(":8080", mw.Handler(app))
//
// The request→verdict path is the proxy's own: the wrapped handler is the
// proxy's upstream, called in-process instead of over the network.
package middleware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/decisionlog"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/stack"
)

// Options tune a Middleware beyond its configuration file.
type Options struct {
	// Getenv reads the secret (secret.env) and JWT keys the
	// configuration names; default os.Getenv.
	Getenv func(string) string
	// Log is the operational log (default: discarded).
	Log *slog.Logger
	// Registerer, if set, gets leakguard's Prometheus metrics (the proxy's
	// names: leakguard_requests_total, leakguard_records_served_total...).
	Registerer prometheus.Registerer
	// Decisions, if set, receives the decision log (JSON lines) instead of
	// the configuration's log.decisions (stdout, stderr or a file).
	Decisions io.Writer
	// OnDecision, if set, is called for every decision the engine takes
	// (a budget or a risk band tripping), after it is logged.
	OnDecision func(Decision)
}

// Decision is one budget or risk band tripping, as the decision log
// writes it.
type Decision = decisionlog.Line

// Middleware is leakguard in-process. It is safe for concurrent use.
type Middleware struct {
	proxy     *proxy.Proxy
	transport *handlerTransport
	closeLog  io.Closer
	mu        sync.Mutex
	closed    bool
}

// Load reads the configuration file at path and returns a Middleware.
func Load(path string, o Options) (*Middleware, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return newMiddleware(path, b, o)
}

// New returns a Middleware for a configuration in leakguard's YAML
// format (see leakguard.example.yaml). listen, upstream, admin, auth and
// limits on connections are the proxy process's and are ignored; state is
// kept in memory (state.redis is refused: a fleet shares state through the
// proxy). The hashing secret comes from secret.env or secret.file (default
// <state.dir>/secret, generated on first use), as for the proxy, so keys in
// the decision log agree with the proxy's and analyze's.
func New(configYAML []byte, o Options) (*Middleware, error) {
	return newMiddleware("config", configYAML, o)
}

func newMiddleware(name string, data []byte, o Options) (*Middleware, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	cfg, err := config.Decode(name, data)
	if err != nil {
		return nil, err
	}
	if err := cfg.ValidateOffline(); err != nil {
		return nil, err
	}
	if cfg.State.Redis != "" {
		return nil, fmt.Errorf("%s: state.redis: the middleware keeps its state in memory; share state through leakguard proxy", name)
	}
	h, _, _, err := stack.Hasher(cfg, o.Getenv)
	if err != nil {
		return nil, err
	}
	m := &Middleware{}
	var dlog *decisionlog.Log
	if o.Decisions != nil {
		dlog = decisionlog.New(o.Decisions, nil)
	} else if dlog, m.closeLog, err = openDecisionLog(cfg.Log.Decisions); err != nil {
		return nil, err
	}
	var metrics *proxy.Metrics
	st, err := stack.Build(cfg, h, func(d engine.Decision) {
		if metrics != nil {
			metrics.Decision(d)
		}
		dlog.Decision(d)
		if o.OnDecision != nil {
			o.OnDecision(decisionlog.LineOf(d))
		}
	}, o.Getenv, stack.Options{})
	if err != nil {
		m.Close()
		return nil, err
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry() // the proxy's metrics need somewhere to live
	}
	metrics = proxy.NewMetrics(reg, st.Catalog.Entities())
	m.transport = &handlerTransport{log: o.Log}
	po := st.ProxyOptions(cfg, h, metrics, nil)
	// The wrapped handler is the upstream; its address is never dialled.
	po.Upstream = &url.URL{Scheme: "http", Host: "in-process.leakguard.invalid"}
	po.Transport = m.transport
	po.Log = o.Log
	m.proxy = proxy.New(po)
	return m, nil
}

// Handler wraps next: each request is admitted or refused (403 for a
// block, 429 with Retry-After for a throttle, the challenge page or JSON
// for a challenge), then served by next, and what next served is metered.
// next sees the request as an upstream behind leakguard proxy would:
// X-Forwarded-For, -Host and -Proto set, Accept-Encoding narrowed to the
// codings leakguard decodes, and method overrides removed when
// inspect.method_overrides is strip.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), nextKey{}, &call{next: next, in: r})
		m.proxy.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Close releases the decision log file, if the middleware opened one.
// Requests after Close are still served.
func (m *Middleware) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.closeLog == nil {
		m.closed = true
		return nil
	}
	m.closed = true
	return m.closeLog.Close()
}

func openDecisionLog(dest string) (*decisionlog.Log, io.Closer, error) {
	switch dest {
	case "stdout", "-":
		return decisionlog.New(os.Stdout, nil), nil, nil
	case "stderr":
		return decisionlog.New(os.Stderr, nil), nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, nil, fmt.Errorf("decision log: %w", err)
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("decision log: %w", err)
	}
	return decisionlog.New(f, nil), f, nil
}

var errNoHandler = errors.New("middleware: request reached the transport without its handler")
