package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leakguard/leakguard/internal/admin"
	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/decisionlog"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/policy"
	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/web"
)

// ProxyCommand is `leakguard proxy`: ParseFlags, then Open (listen), Serve, Close.
type ProxyCommand struct {
	ConfigPath string
	Listen     string
	Upstream   string
	AdminAddr  string
	Mode       string

	Stdout, Stderr io.Writer
	Getenv         func(string) string

	Config     *config.Config
	Engine     *engine.Engine
	Meter      *memory.Memory
	AdminToken string

	log       *slog.Logger
	state     *proxyState
	journal   *admin.Journal
	timeline  *web.Timeline
	decisions *decisionlog.Log
	closeLog  io.Closer
	ln, adm   net.Listener
	srv, asrv *http.Server
	// the auth endpoint (auth.listen), for edges that ask per request
	authLn  net.Listener
	authSrv *http.Server
}

func (c *ProxyCommand) usage(fs *flag.FlagSet) func() {
	return func() {
		fmt.Fprintf(fs.Output(), `Usage: leakguard proxy [--config FILE] [flags]

Runs leakguard as a reverse proxy in front of an API, metering the personal
records each actor receives and acting on budgets. Start in mode: shadow.

Flags (override the config file):
`)
		fs.PrintDefaults()
	}
}

// ParseFlags reads the command line and loads the configuration.
func (c *ProxyCommand) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("leakguard proxy", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.StringVar(&c.ConfigPath, "config", "", "configuration file (YAML); see leakguard.example.yaml")
	fs.StringVar(&c.Listen, "listen", "", "address to serve on, e.g. 127.0.0.1:8080 (config: listen)")
	fs.StringVar(&c.Upstream, "upstream", "", "URL of the API to protect (config: upstream)")
	fs.StringVar(&c.AdminAddr, "admin", "", "admin address for /healthz, /metrics, /api; \"off\" to disable (config: admin.listen)")
	fs.StringVar(&c.Mode, "mode", "", "shadow (decide and log only) or enforce (config: mode)")
	fs.Usage = c.usage(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags go before nothing else)", fs.Arg(0))
	}
	var cfg *config.Config
	if c.ConfigPath != "" {
		var err error
		// Read, not Load: flags are applied before the one Validate.
		if cfg, err = config.Read(c.ConfigPath); err != nil {
			return err
		}
	} else {
		cfg = config.Default()
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, c.Listen)
	set(&cfg.Upstream, c.Upstream)
	set(&cfg.Admin.Listen, c.AdminAddr)
	set(&cfg.Mode, c.Mode)
	if err := cfg.Validate(); err != nil {
		if c.ConfigPath == "" && cfg.Upstream == "" {
			return errors.New("no upstream: give --upstream URL or --config FILE (see leakguard proxy -h)")
		}
		return err
	}
	c.Config = cfg
	return nil
}

// Open builds the engine and starts listening; it does not serve yet.
func (c *ProxyCommand) Open() error {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	cfg := c.Config
	c.log = slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: levelOf(cfg.Log.Level)}))

	h, source, created, err := configHasher(cfg, c.Getenv)
	if err != nil {
		return err
	}
	if created {
		c.log.Info("generated a new hashing secret; keep it to keep actor hashes stable across restarts", "file", source)
	}

	c.state = &proxyState{cfg: cfg, log: c.log, ledger: &canary.Ledger{}, secretFingerprint: fleetFingerprint(h)}
	c.journal = admin.NewJournal(500)
	so, err := c.state.stackOptions()
	if err != nil {
		return err
	}
	st, err := buildStack(cfg, h, c.onDecision, c.Getenv, so)
	if err != nil {
		return err
	}
	c.Engine, c.Meter = st.engine, st.meter
	if err := c.state.open(st.engine, st.meter, st.catalog.Entities(), st.detector.AddAllow, func(p netip.Prefix) { st.detector.RemoveAllow(p) }); err != nil {
		return err
	}

	if c.decisions, c.closeLog, err = openDecisionLog(cfg.Log.Decisions, c.Stdout, c.Stderr); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := proxy.NewMetrics(reg, st.catalog.Entities())
	st.metrics = metrics
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_actor_keys", Help: "Actor keys held by the meter."},
		func() float64 { return float64(st.meter.Len()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_sanctioned_keys", Help: "Actor keys under a block, throttle or log sanction."},
		func() float64 { return float64(st.engine.Sanctioned()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "leakguard_actor_evictions_total", Help: "Actor keys evicted to stay under meter.max_actors."},
		func() float64 { return float64(st.meter.Evictions()) }))
	shadowG := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_shadow_mode", Help: "1 in shadow mode, 0 when enforcing."},
		func() float64 {
			if st.engine.Shadow() {
				return 1
			}
			return 0
		})
	reg.MustRegister(shadowG)
	c.state.register(reg)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_records_cold_share",
		Help: "Share of recently served records that hardly anyone had been served before: a sweep spread over many actors raises it."},
		st.detector.ColdShare))

	up, _ := url.Parse(cfg.Upstream)
	handler := proxy.New(proxy.Options{
		Upstream: up, Resolver: st.resolver, Catalog: st.catalog, Engine: st.engine, Metrics: metrics,
		Log: c.log, MaxBodyBytes: cfg.Inspect.MaxBodyBytes,
		Transport:  proxy.NewTransport(cfg.Limits.UpstreamTimeout.D(), cfg.Limits.MaxIdleConns),
		FailClosed: c.state.failClosed(),
		Detector:   st.detector, UA: st.ua,
		Challenger: &proxy.Challenger{Secret: h.Derive("leakguard challenge key"), Difficulty: cfg.Risk.ChallengeDifficulty},
		Decoys:     canaryMaker(cfg, h),
		Sprinkle:   sprinkles(cfg, st.catalog),
		Ledger:     c.state.ledger,

		UpstreamBodyTimeout: cfg.Limits.UpstreamBodyTimeout.D(), MaxUpstreamBodyBytes: cfg.Limits.MaxUpstreamBodyBytes,
		MaxDecodedBodyBytes: cfg.Limits.MaxDecodedBodyBytes, StripMethodOverrides: cfg.Inspect.MethodOverrides == "strip",
	})

	if c.ln, err = listenCapped(cfg.Listen, cfg.Limits.MaxConns); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	c.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Limits.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.Limits.ReadTimeout.D(),
		IdleTimeout:       cfg.Limits.IdleTimeout.D(),
		MaxHeaderBytes:    cfg.Limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
	}

	if cfg.Auth.Listen != "off" {
		if c.authLn, err = listenCapped(cfg.Auth.Listen, cfg.Limits.MaxConns); err != nil {
			c.ln.Close()
			return fmt.Errorf("auth listen: %w", err)
		}
		c.authSrv = &http.Server{
			Handler:           handler.Auth(),
			ReadHeaderTimeout: cfg.Limits.ReadHeaderTimeout.D(),
			ReadTimeout:       cfg.Limits.ReadTimeout.D(),
			IdleTimeout:       cfg.Limits.IdleTimeout.D(),
			MaxHeaderBytes:    cfg.Limits.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
		}
	}

	if cfg.Admin.Listen != "off" {
		if c.AdminToken, err = adminToken(c.Getenv(cfg.Admin.TokenEnv), cfg.Admin.TokenEnv, cfg.State.Dir, c.log); err != nil {
			return err
		}
		if c.adm, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			c.ln.Close()
			if c.authLn != nil {
				c.authLn.Close()
			}
			return fmt.Errorf("admin listen: %w", err)
		}
		c.asrv = &http.Server{
			Handler:           c.adminHandler(st, reg, metrics),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
		}
	}
	c.log.Info("leakguard proxy ready",
		"listen", c.ln.Addr().String(), "upstream", up.Redacted(), "mode", cfg.Mode,
		"admin", c.AdminURL(), "auth", c.AuthURL(), "record_routes", len(cfg.Records), "policy", policySummary(cfg),
		"pii", strings.Join(cfg.PII.Detect, ","), "decisions", cfg.Log.Decisions)
	return nil
}

func (c *ProxyCommand) onDecision(d engine.Decision) {
	c.decisions.Decision(d)
	c.journal.Add(decisionlog.LineOf(d))
	c.state.decided(d)
}

// adminHandler is the admin API and the dashboard, over the stack.
func (c *ProxyCommand) adminHandler(st *stack, reg *prometheus.Registry, metrics *proxy.Metrics) http.Handler {
	c.timeline = &web.Timeline{Every: 5 * time.Second, N: 360, Read: func() (uint64, uint64) {
		_, recs, _, sus := metrics.Snapshot()
		var n uint64
		for _, v := range recs {
			n += v
		}
		return n, sus
	}}
	return admin.Handler(admin.Options{
		Token: c.AdminToken, Gatherer: reg, Meter: st.meter,
		Engine:   adminEngine{st.engine, c.state.unblocked},
		Entities: st.catalog.Entities(),
		Audit:    c.audit,
		UI:       web.Files(), Journal: c.journal, ReportsDir: c.Config.Admin.ReportsDir,
		Allow: func(p netip.Prefix) (string, error) {
			st.detector.AddAllow(p)
			return c.state.allowed(p)
		},
		Disallow: func(p netip.Prefix) (bool, error) {
			if !st.detector.RemoveAllow(p) {
				return false, nil
			}
			return true, c.state.disallowed(p)
		},
		Allows:   st.detector.Allows,
		Canaries: c.state.lookupCanaries,
		Stats:    func() admin.Stats { return c.stats(st, metrics) },
		Policy:   func() any { return policyView(c.Config) },
		Actor:    func(k identity.Key) admin.ActorDetail { return actorDetail(st, k) },
	})
}

// audit records an operator action in the decision log and the journal.
func (c *ProxyCommand) audit(action string, attrs ...slog.Attr) {
	c.decisions.Operator(action, attrs...)
	m := map[string]any{"time": time.Now().UTC(), "msg": "operator", "action": action}
	for _, a := range attrs {
		m[a.Key] = a.Value.Any()
	}
	c.journal.Add(m)
}

// stats is the dashboard's live view.
func (c *ProxyCommand) stats(st *stack, m *proxy.Metrics) admin.Stats {
	req, recs, dec, sus := m.Snapshot()
	mode := config.ModeEnforce
	if st.engine.Shadow() {
		mode = config.ModeShadow
	}
	s := admin.Stats{Time: time.Now().UTC(), Mode: mode, Requests: req, Records: recs, Decisions: dec, SuspectRecs: sus,
		ColdShare: st.detector.ColdShare(), ActorKeys: st.meter.Len(), Sanctioned: st.engine.Sanctioned(), TimelineEvery: "5s"}
	if c.timeline != nil {
		s.Timeline = c.timeline.Samples()
	}
	return s
}

// actorDetail is one key's drill-down: distinct records per bucket in each
// window, traffic, and the sanctions in force.
func actorDetail(st *stack, k identity.Key) admin.ActorDetail {
	now := time.Now().UnixNano()
	d := admin.ActorDetail{Key: k.String(), Series: map[string]map[string][]uint64{}, Buckets: map[string]string{},
		Requests: map[string]uint64{}, Misses: map[string]uint64{}, Sanctions: []map[string]any{}}
	for wi, w := range st.meter.Windows() {
		name := config.FormatDuration(w)
		d.Series[name] = map[string][]uint64{}
		d.Buckets[name] = config.FormatDuration(st.meter.Resolution(wi))
		for ent, e := range st.catalog.Entities() {
			if series := st.meter.Series(now, k, ent, wi); slices.ContainsFunc(series, func(v uint64) bool { return v > 0 }) {
				d.Series[name][e] = series
			}
		}
		d.Requests[name], d.Misses[name] = st.meter.Traffic(now, k, wi)
	}
	st.engine.EachSanctionOf(now, k, func(x engine.Sanction) {
		d.Sanctions = append(d.Sanctions, map[string]any{"rule": x.Rule, "action": x.Action.String(), "until": time.Unix(0, x.Until).UTC()})
	})
	return d
}

// canaryMaker makes decoys and canaries; canary trace must scan dumps with
// the same scanner to find them again.
func canaryMaker(cfg *config.Config, h *keyed.Hasher) *canary.Maker {
	return canary.NewMaker(h.Derive("leakguard decoy key"), canaryScanner(cfg, h))
}

func canaryScanner(cfg *config.Config, h *keyed.Hasher) *records.Scanner {
	return records.NewScanner([]records.Kind{records.Phone, records.Email, records.CNID, records.BankCard}, cfg.PII.PhoneRegions, h, [4]uint64{})
}

func sprinkles(cfg *config.Config, cat *records.Catalog) map[string]proxy.Sprinkle {
	out := map[string]proxy.Sprinkle{}
	for _, sp := range cfg.Canary.Sprinkle {
		for i, r := range cfg.Records {
			if r.Route == sp.Route {
				out[cat.RouteName(i)] = proxy.Sprinkle{Path: sp.GJSONPath(), Rate: sp.Rate}
			}
		}
	}
	return out
}

// adminEngine is the engine as the admin API sees it: an unblock is also
// persisted, or shared with the fleet.
type adminEngine struct {
	*engine.Engine
	unblocked func(identity.Key)
}

func (a adminEngine) Unblock(k identity.Key) bool {
	found := a.Engine.Unblock(k)
	a.unblocked(k)
	return found
}

// Addr is the address the proxy serves on (after Open).
func (c *ProxyCommand) Addr() string { return c.ln.Addr().String() }

// AdminURL is the admin base URL, or "off".
func (c *ProxyCommand) AdminURL() string {
	if c.adm == nil {
		return "off"
	}
	return "http://" + c.adm.Addr().String()
}

// AuthURL is the auth endpoint's URL (after Open), or "off".
func (c *ProxyCommand) AuthURL() string {
	if c.authLn == nil {
		return "off"
	}
	return "http://" + c.authLn.Addr().String() + proxy.AuthPath
}

// Serve serves until ctx is done, then shuts down gracefully.
func (c *ProxyCommand) Serve(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- c.srv.Serve(c.ln) }()
	if c.asrv != nil {
		go func() { errc <- c.asrv.Serve(c.adm) }()
	}
	if c.authSrv != nil {
		go func() { errc <- c.authSrv.Serve(c.authLn) }()
	}
	if c.timeline != nil {
		tctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go c.timeline.Run(tctx)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	c.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.srv.Shutdown(sctx)
	if c.asrv != nil {
		c.asrv.Shutdown(sctx)
	}
	if c.authSrv != nil {
		err = errors.Join(err, c.authSrv.Shutdown(sctx))
	}
	return err
}

// Close releases what Open acquired.
func (c *ProxyCommand) Close() error {
	var errs []error
	if c.srv != nil {
		errs = append(errs, ignoreClosed(c.srv.Close()))
	}
	if c.asrv != nil {
		errs = append(errs, ignoreClosed(c.asrv.Close()))
	}
	if c.authSrv != nil {
		errs = append(errs, ignoreClosed(c.authSrv.Close()))
	} else if c.authLn != nil {
		errs = append(errs, ignoreClosed(c.authLn.Close()))
	}
	if c.state != nil {
		// After the listeners: the final flush sees every request served.
		errs = append(errs, c.state.close())
	}
	if c.closeLog != nil {
		errs = append(errs, c.closeLog.Close())
	}
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// stack is the engine and what feeds it, built from a config. The proxy,
// and later log replay and simulation, all build the same stack.
type stack struct {
	resolver *identity.Resolver
	detector *detect.Detector
	ua       *detect.UAClassifier
	catalog  *records.Catalog
	meter    *memory.Memory
	engine   *engine.Engine
	metrics  *proxy.Metrics
}

// stackOptions are what the proxy adds to the stack for state that
// outlives the process or is shared with other proxies.
type stackOptions struct {
	// Persist and Load hook the meter to the embedded store.
	Persist bool
	Load    func(identity.Key) []byte
	// Fleet, if set, wraps the local meter in one shared through Redis.
	Fleet func(local *memory.Memory, entities []string) engine.Meter
	// Resolver is the DNS for verifying search-engine crawlers (nil: the
	// system's; the simulator passes a fake).
	Resolver detect.Resolver
	// NoBotDNS turns verification off (log replay: today's DNS says
	// nothing of the addresses of years ago, and lookups would stall).
	NoBotDNS bool
}

// riskOf translates the config's risk section for the engine.
func riskOf(cfg *config.Config) (engine.Risk, error) {
	r := engine.Risk{Weights: map[detect.Signals]int{},
		EnumMinRequests: uint64(cfg.Risk.Enumeration.MinRequests), EnumMissRatio: cfg.Risk.Enumeration.MissRatio}
	// Requests and misses are read in the smallest report window, so a
	// budget's shorter window does not change what enumeration means.
	if len(cfg.Meter.ReportWindows) > 0 {
		smallest := slices.MinFunc(cfg.Meter.ReportWindows, func(a, b config.Duration) int { return int(a.D() - b.D()) })
		r.Window = max(slices.Index(cfg.Windows(), smallest.D()), 0)
	}
	for name, w := range cfg.Risk.Weights {
		sig, ok := detect.SignalByName(name)
		if !ok {
			return r, fmt.Errorf("risk.weights: unknown signal %q", name)
		}
		r.Weights[sig] = w
	}
	for _, b := range cfg.Risk.Bands {
		act, err := engine.ParseAction(b.Action)
		if err != nil {
			return r, err
		}
		r.Bands = append(r.Bands, engine.Band{Min: b.Min, Action: act, For: b.For.D()})
	}
	return r, nil
}

func detectorOf(cfg *config.Config, res *identity.Resolver, dns detect.Resolver, verify bool) (*detect.Detector, *detect.UAClassifier, error) {
	ua, err := detect.NewUAClassifier()
	if err != nil {
		return nil, nil, err
	}
	o := detect.Options{Behaviour: detect.NewBehaviour(cfg.Meter.MaxActors)}
	for _, a := range cfg.Detect.Allow {
		p, err := config.ParsePrefix(a)
		if err != nil {
			return nil, nil, err
		}
		o.Allow = append(o.Allow, p)
	}
	for _, a := range cfg.Detect.AllowAccounts {
		o.AllowKeys = append(o.AllowKeys, res.AccountKey(a))
	}
	if v := cfg.Detect.VerifySearchBots; verify && (v == nil || *v) {
		o.Verify = detect.NewBotVerifier(dns)
	}
	return detect.New(o), ua, nil
}

func buildStack(cfg *config.Config, h *keyed.Hasher, onDecision func(engine.Decision), getenv func(string) string, so stackOptions) (*stack, error) {
	st := &stack{}
	trusted := make([]netip.Prefix, 0, len(cfg.Identity.TrustedProxies))
	for _, p := range cfg.Identity.TrustedProxies {
		pr, err := config.ParsePrefix(p)
		if err != nil {
			return nil, err
		}
		trusted = append(trusted, pr)
	}
	account, err := keySource(cfg.Identity.Account, getenv)
	if err != nil {
		return nil, fmt.Errorf("identity.account: %w", err)
	}
	session, err := keySource(cfg.Identity.Session, getenv)
	if err != nil {
		return nil, fmt.Errorf("identity.session: %w", err)
	}
	st.resolver = identity.NewResolver(identity.Options{
		TrustedProxies: trusted, IPv4Prefix: cfg.Identity.IPv4Prefix, IPv6Prefix: cfg.Identity.IPv6Prefix,
		Account: account, Session: session,
	}, h)
	spec := records.Spec{PhoneRegions: cfg.PII.PhoneRegions, ScanAll: cfg.PII.Scan == "all"}
	if cfg.PII.Scan != "off" {
		spec.PII = cfg.PII.Detect
	}
	for _, r := range cfg.Records {
		spec.Routes = append(spec.Routes, records.RouteSpec{Route: r.Route, Entity: r.Entity, Param: r.Param, Body: r.Body, Lookup: r.Lookup, Exclude: r.Exclude,
			Methods: r.Methods, CaseSensitive: r.CaseSensitive})
	}
	if st.catalog, err = records.NewCatalog(spec, h); err != nil {
		return nil, err
	}
	entities := st.catalog.Entities()
	budgetsInForce := cfg.EffectiveBudgets()
	perPerson := slices.ContainsFunc(budgetsInForce, func(b config.Budget) bool { return b.PerPerson })
	// Budgets may name a PII entity whose detector is off; keep the names known.
	for _, b := range budgetsInForce {
		if st.catalog.EntityIndex(b.Entity) < 0 {
			return nil, fmt.Errorf("budget %s: entity %q has no records route and its detector is off", b.ID(), b.Entity)
		}
	}
	// Per-person budgets count the people behind addresses as one entity
	// more, after the catalog's.
	metered, people := len(entities), -1
	if perPerson {
		metered, people = len(entities)+1, len(entities)
	}
	st.meter = memory.New(memory.Options{
		Windows: cfg.Windows(), Entities: metered, ExactUpTo: cfg.Meter.ExactUpTo, MaxActors: cfg.Meter.MaxActors,
		Persist: so.Persist, Load: so.Load,
	})
	var m engine.Meter = st.meter
	if so.Fleet != nil {
		names := entities
		if people >= 0 {
			// The fleet keys counts by entity name: the people behind an
			// address are shared like any entity.
			names = append(slices.Clip(entities), "_people")
		}
		m = so.Fleet(st.meter, names)
	}
	var budgets []engine.Budget
	for _, b := range budgetsInForce {
		kind, _ := identity.KindByName(b.Per)
		act, err := engine.ParseAction(b.Action)
		if err != nil {
			return nil, err
		}
		budgets = append(budgets, engine.Budget{
			ID: b.ID(), Entity: b.Entity, Per: kind, Window: b.Window.D(), Limit: uint64(b.Limit),
			Action: act, BlockFor: b.BlockFor.D(), PerPerson: b.PerPerson, Allowlisted: b.Allowlisted,
		})
	}
	risk, err := riskOf(cfg)
	if err != nil {
		return nil, err
	}
	if st.detector, st.ua, err = detectorOf(cfg, st.resolver, so.Resolver, !so.NoBotDNS); err != nil {
		return nil, err
	}
	var rules []engine.Rule
	for _, r := range cfg.Rules {
		match, err := policy.Compile(r.Name, r.When)
		if err != nil {
			return nil, err
		}
		act, err := engine.ParseAction(r.Action)
		if err != nil {
			return nil, err
		}
		rules = append(rules, engine.Rule{Name: r.Name, Match: match, Action: act, For: r.For.D()})
	}
	st.engine, err = engine.New(m, engine.Options{
		Entities: entities, Budgets: budgets, Risk: risk, Rules: rules, Shadow: cfg.Mode == config.ModeShadow, People: people,
		OnDecision: func(d engine.Decision) {
			if st.metrics != nil {
				st.metrics.Decision(d)
			}
			onDecision(d)
		},
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// configHasher returns the keyed hasher for cfg's secret: from secret.env if
// set, else secret.file (default <state.dir>/secret), generated on first use.
// Every command that hashes identifiers uses it, so their keys agree.
func configHasher(cfg *config.Config, getenv func(string) string) (h *keyed.Hasher, source string, created bool, err error) {
	file := cfg.Secret.File
	if file == "" {
		file = filepath.Join(cfg.State.Dir, "secret")
	}
	secret, source, created, err := keyed.LoadSecret(getenv, cfg.Secret.Env, file)
	if err != nil {
		return nil, "", false, fmt.Errorf("secret: %w", err)
	}
	return keyed.New(secret), source, created, nil
}

// keySource turns a configured identifier source into identity's, loading
// the JWT verification key if one is configured.
func keySource(k config.KeySource, getenv func(string) string) (identity.Source, error) {
	src := identity.Source{Header: k.Header, Cookie: k.Cookie, JWTClaim: k.JWTClaim}
	var err error
	switch {
	case k.JWTKeyEnv != "":
		secret := getenv(k.JWTKeyEnv)
		if secret == "" {
			return src, fmt.Errorf("$%s (jwt_key_env) is empty", k.JWTKeyEnv)
		}
		src.JWT, err = identity.NewHMACVerifier([]byte(secret))
	case k.JWTPublicKeyFile != "":
		var pem []byte
		if pem, err = os.ReadFile(k.JWTPublicKeyFile); err == nil {
			src.JWT, err = identity.NewPublicKeyVerifier(pem)
		}
		if err != nil {
			err = fmt.Errorf("jwt_public_key_file %s: %w", k.JWTPublicKeyFile, err)
		}
	}
	return src, err
}

func openDecisionLog(dest string, stdout, stderr io.Writer) (*decisionlog.Log, io.Closer, error) {
	switch dest {
	case "stdout", "-":
		return decisionlog.New(stdout, nil), nil, nil
	case "stderr":
		return decisionlog.New(stderr, nil), nil, nil
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

// adminToken returns the token from the environment or, if unset, one kept in
// the state directory (generated on first start). The token is never logged.
func adminToken(fromEnv, envName, stateDir string, log *slog.Logger) (string, error) {
	if fromEnv = strings.TrimSpace(fromEnv); fromEnv != "" {
		if len(fromEnv) < 16 {
			return "", fmt.Errorf("admin token in $%s is too short: want at least 16 characters", envName)
		}
		return fromEnv, nil
	}
	file := filepath.Join(stateDir, "admin-token")
	if b, err := os.ReadFile(file); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		log.Info("admin token read from file (set $"+envName+" to choose one)", "file", file)
		return strings.TrimSpace(string(b)), nil
	}
	tok, err := keyed.RandomHex(24)
	if err != nil {
		return "", err
	}
	if err := keyed.WriteFileAtomic(file, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keeping admin token: %w", err)
	}
	log.Info("generated an admin token (set $"+envName+" to choose one)", "file", file)
	return tok, nil
}

func levelOf(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}
