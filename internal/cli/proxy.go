package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leakguard/leakguard/internal/admin"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/decisionlog"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/follow"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/state"
	"github.com/leakguard/leakguard/internal/web"
)

// ProxyCommand is `leakguard proxy`: ParseFlags, then Open (listen), Serve, Close.
type ProxyCommand struct {
	ConfigPath string
	Listen     string
	Upstream   string
	AdminAddr  string
	Mode       string
	// ColdPopularity: start the behaviour tracker cold, as a first start
	// does, rather than from the popularity snapshot kept (the demo, whose
	// scoreboard is of a fresh start even on a state directory reused).
	ColdPopularity bool

	Stdout, Stderr io.Writer
	Getenv         func(string) string

	Config     *config.Config
	Engine     *engine.Engine
	Meter      *memory.Memory
	AdminToken string

	log       *slog.Logger
	state     *state.Lifecycle
	journal   *admin.Journal
	live      *web.Live // the dashboard's view, when admin is on
	decisions *decisionlog.Log
	closeLog  io.Closer
	server    *proxy.Server // the proxy, and its auth endpoint if auth.listen is on
	admin     *admin.Server // the admin API and dashboard, unless admin.listen is off
	// the edge's access log over syslog (follow.syslog), metered live
	follower *follow.Follower
	detector *detect.Detector
	// behaviour's popularity and the engine's partners' histories are
	// kept every snapshotEvery and at Close; popMu keeps a keep from
	// reaching the state after Close closed it.
	behaviour *detect.Behaviour
	popMu     sync.Mutex
	stateShut bool
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

	lifecycle, err := state.NewLifecycle(cfg, h, c.log)
	if err != nil {
		return err
	}
	c.state = lifecycle
	c.journal = admin.NewJournal(500)
	hooks := c.state.Hooks()
	stk, err := buildStack(cfg, h, c.onDecision, c.Getenv, stackOptions{Persist: hooks.Persist, Load: hooks.Load, Fleet: hooks.Fleet})
	if err != nil {
		return err
	}
	c.Engine, c.Meter = stk.engine, stk.meter
	if err := c.state.Open(stk.engine, stk.meter, stk.catalog.Entities(), stk.detector.AddAllow, func(p netip.Prefix) { stk.detector.RemoveAllow(p) }); err != nil {
		return err
	}
	c.behaviour = stk.behaviour
	if !c.ColdPopularity {
		// Before the first request: Restore replaces what the tracker
		// holds.
		c.state.RestorePopularity(c.behaviour, time.Now())
	}
	c.state.RestorePartners(c.Engine)

	if c.decisions, c.closeLog, err = decisionlog.Open(cfg.Log.Decisions, c.Stdout, c.Stderr); err != nil {
		return err
	}
	c.decisions.Failing = func(err error, lost uint64) {
		if err != nil {
			c.log.Error("decision log: a line could not be written; decisions are still made and counted (leakguard_decisions_total), and lines lost are counted (leakguard_decision_lines_lost_total)", "dest", cfg.Log.Decisions, "err", err)
		} else {
			c.log.Info("decision log: writing again", "dest", cfg.Log.Decisions, "lines_lost", lost)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := proxy.NewMetrics(reg, stk.catalog.Entities())
	stk.metrics = metrics
	proxy.RegisterGauges(reg, stk.meter, stk.engine, stk.detector)
	c.detector = stk.detector
	c.state.Register(reg)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "leakguard_decision_lines_lost_total", Help: "Decision log lines that could not be written (a full disk, a closed pipe)."},
		func() float64 { return float64(c.decisions.Lost()) }))

	up, _ := url.Parse(cfg.Upstream)
	opts := stk.built.ProxyOptions(cfg, h, metrics, c.state.Ledger())
	opts.Upstream, opts.Log, opts.FailClosed = up, c.log, c.state.FailClosed()
	opts.Transport = proxy.NewTransport(cfg.Limits.UpstreamTimeout.D(), cfg.Limits.MaxIdleConns)
	opts.LogMetered = cfg.Follow.Syslog != "off" // so the auth endpoint does not meter what the log will
	opts.CrewRefused = func(now time.Time, a *identity.Actor, route string, v engine.Verdict) {
		c.decisions.Refused(now, a, route, v)
	}
	handler := proxy.New(opts)
	handler.RegisterHeld(reg)
	if c.follower, err = follow.FromConfig(cfg.Follow, follow.Options{Resolver: stk.resolver, Catalog: stk.catalog, Engine: stk.engine,
		Detector: stk.detector, UA: stk.ua, Served: metrics.Served, Registerer: reg, Log: c.log}); err != nil {
		return err
	}

	authAddr := cfg.Auth.Listen
	if authAddr == "off" {
		authAddr = ""
	}
	l := cfg.Limits
	limits := proxy.Limits{MaxConns: l.MaxConns, ReadHeaderTimeout: l.ReadHeaderTimeout.D(), ReadTimeout: l.ReadTimeout.D(),
		IdleTimeout: l.IdleTimeout.D(), MaxHeaderBytes: l.MaxHeaderBytes,
		ErrorLog: log.New(serverLog{c.log}, "", 0)}
	if fit := proxy.FitConns(l.MaxConns, authAddr != "", openFilesLimit()); fit < l.MaxConns {
		// A warning when it halves the cap or more; a few percent off the
		// default on a host of 20,000 descriptors is no news.
		level := slog.LevelInfo
		if fit < l.MaxConns/2 {
			level = slog.LevelWarn
		}
		c.log.Log(context.Background(), level, "limits.max_conns lowered to fit the process's open-file limit: a client's connection may take one to the upstream too, and past the limit every listener refuses, the admin's and /healthz's included; raise the service's LimitNOFILE (ulimit -n) for more",
			"configured", l.MaxConns, "in_force", fit, "open_files", openFilesLimit())
		limits.MaxConns = fit
	}
	var tlsCfg *tls.Config
	if t := cfg.TLS; t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return fmt.Errorf("tls.cert_file: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if c.server, err = proxy.Listen(handler, cfg.Listen, authAddr, limits, tlsCfg); err != nil {
		return err
	}
	if cfg.Admin.Listen != "off" {
		if c.AdminToken, err = admin.LoadToken(c.Getenv(cfg.Admin.TokenEnv), cfg.Admin.TokenEnv, cfg.State.Dir, c.log); err != nil {
			return err
		}
		if c.admin, err = admin.ListenLimited(cfg.Admin.Listen, c.adminHandler(stk, reg, metrics), admin.Limits{ErrorLog: log.New(serverLog{c.log}, "", 0)}); err != nil {
			c.server.Close()
			return fmt.Errorf("admin listen: %w", err)
		}
	}
	c.log.Info("leakguard proxy ready",
		"listen", c.Addr(), "tls", tlsCfg != nil, "upstream", up.Redacted(), "mode", cfg.Mode,
		"admin", c.AdminURL(), "auth", c.AuthURL(), "follow", c.FollowAddr(), "record_routes", len(cfg.Records), "policy", cfg.PolicySummary(),
		"pii", strings.Join(cfg.PII.Detect, ","), "decisions", cfg.Log.Decisions)
	if s := cfg.Identity.Session; s.Header == "" && s.Cookie == "" && s.JWTClaim == "" {
		c.log.Warn("identity.session is not set: requests are not told apart by session, so the people behind a carrier NAT count as one and a residential swarm's lack of a session is not seen; name the session cookie (identity.session: {cookie: NAME})")
	}
	if tlsCfg == nil && cfg.Identity.TLSFingerprintHeader == "" && cfg.Follow.TLSVar == "" {
		// Not a warning: most deployments start so. But a swarm with a
		// session per address is held only by its TLS client, and the
		// setting is easy to miss.
		c.log.Info("no client TLS fingerprint (JA4): a script sending a browser's headers shares that browser's fingerprint, and a swarm with a session per address is not held; terminate TLS here (tls: {cert_file, key_file}) or name the header your edge passes it in (identity.tls_fingerprint_header): docs/integrations/tls-fingerprints.md")
	}
	return nil
}

func (c *ProxyCommand) onDecision(d engine.Decision) {
	c.decisions.Decision(d)
	c.journal.Add(decisionlog.LineOf(d))
	c.state.Decided(d)
}

// adminHandler is the admin API and the dashboard, over the stack.
func (c *ProxyCommand) adminHandler(stk *stack, reg *prometheus.Registry, metrics *proxy.Metrics) http.Handler {
	c.live = web.NewLive(metrics, stk.engine, stk.meter, stk.detector.ColdShare)
	return admin.Handler(admin.Options{
		Token: c.AdminToken, Gatherer: reg, Meter: stk.meter,
		Engine:   admin.KeepUnblocks(stk.engine, c.state.Unblocked),
		Entities: stk.catalog.Entities(),
		Audit:    c.audit,
		UI:       web.Files(), Journal: c.journal, ReportsDir: c.Config.Admin.ReportsDir,
		Allow: func(p netip.Prefix) (string, error) {
			stk.detector.AddAllow(p)
			return c.state.Allowed(p)
		},
		Disallow: func(p netip.Prefix) (bool, error) {
			if !stk.detector.RemoveAllow(p) {
				return false, nil
			}
			return true, c.state.Disallowed(p)
		},
		Allows:   stk.detector.Allows,
		Canaries: c.state.LookupCanaries,
		Stats:    c.live.Stats,
		Policy: func() any {
			return admin.PolicyView(c.Config, c.Config.PolicySummary(), stk.engine.Learned(), stk.engine.PartnerNormals(time.Now()))
		},
		Actor: func(k identity.Key) admin.ActorDetail {
			return admin.DetailOf(stk.meter, stk.engine, stk.catalog.Entities(), k, time.Now())
		},
	})
}

// audit records an operator action in the decision log and the journal.
func (c *ProxyCommand) audit(action string, attrs ...slog.Attr) {
	c.decisions.Operator(action, attrs...)
	c.journal.Add(decisionlog.OperatorLine(time.Now(), action, attrs...))
}

// Addr is the address the proxy serves on (after Open).
func (c *ProxyCommand) Addr() string { return c.server.Addr().String() }

// AdminURL is the admin base URL, or "off".
func (c *ProxyCommand) AdminURL() string {
	if c.admin == nil {
		return "off"
	}
	return c.admin.URL()
}

// AuthURL is the auth endpoint's URL (after Open), or "off".
func (c *ProxyCommand) AuthURL() string {
	if c.server == nil {
		return "off"
	}
	return c.server.AuthURL()
}

// FollowAddr is the syslog address the access log is received on (after
// Open), or "off".
func (c *ProxyCommand) FollowAddr() string {
	if c.follower == nil {
		return "off"
	}
	return c.follower.Addr().String()
}

// Serve serves until ctx is done, then shuts down gracefully.
func (c *ProxyCommand) Serve(ctx context.Context) error {
	errc := make(chan error, 3)
	c.server.Serve(errc)
	if c.admin != nil {
		c.admin.Serve(errc)
	}
	if c.live != nil {
		tctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go c.live.Timeline.Run(tctx)
	}
	cctx, stopCalibrating := context.WithCancel(ctx)
	defer stopCalibrating()
	go c.calibrate(cctx)
	kept := make(chan struct{})
	go func() { defer close(kept); c.keepSnapshots(cctx, snapshotEvery) }()
	defer func() { stopCalibrating(); <-kept }()
	go c.warnClients(cctx, 30*time.Second)
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
	err := c.server.Shutdown(sctx)
	if c.admin != nil {
		c.admin.Shutdown(sctx)
	}
	return err
}

// warnClients says once each, in the log, when most record calls come
// from sessions that never loaded a page or asset through leakguard
// (pages and assets served from elsewhere, or an app), and when a quarter
// of them carry no session (an app without the configured session).
// Either way no_assets or sessionless makes one crew of those people,
// which meets a crew's budget for all of them (1,125 of 1,200 requests of
// 400 people refused). A quarter: an app whose users make two calls in
// five was below the four in five this asked until 2026-12-06, and its
// users were refused as one crew with no word in the log.
func (c *ProxyCommand) warnClients(ctx context.Context, every time.Duration) {
	if c.Config.Detect.APIClients {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var pageless, sessionless, noPages, astray bool
	for !pageless || !sessionless || !noPages || !astray {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n := c.detector.Clients()
		if all := n.Sessions + n.Sessionless; !pageless && n.Sessions >= clientsMinCalls && 4*n.Pageless >= n.Sessions {
			pageless = true
			c.log.Warn("a quarter or more of the record calls come from sessions that never loaded a page or an asset through leakguard: if it is your app, name its User-Agent in detect.app_user_agents; if pages and assets are served from elsewhere, set detect.api_clients: true; else no_assets makes those sessions one crew, which meets a crew's budget for all of them",
				"record_calls", n.Sessions, "pageless", n.Pageless)
		} else if !noPages && n.Sessions >= clientsMinCalls && n.Pages == 0 {
			noPages = true
			c.log.Info("no HTML page has been served through leakguard (a GET with an HTML Accept, answered 2xx or 304): the rules on a session's page lineage (paged and pageless sessions) stay off; they need the pages to come through it",
				"record_calls", n.Sessions)
		} else if !astray && n.Later >= clientsMinCalls && 4*n.Astray >= n.Later {
			astray = true
			c.log.Warn("a quarter or more of the record calls of sessions that loaded a page are about items no page or record response had shown them: if your pages ask the API about ids leakguard does not read (a route not under records, a browser's local storage), set detect.single_page_app: true; else a session that does so mostly, two items or more, joins the strangers' crew, which meets a crew's budget for all of them",
				"later_calls", n.Later, "astray", n.Astray)
		} else if !sessionless && all >= clientsMinCalls && 4*n.Sessionless >= all {
			sessionless = true
			c.log.Warn("a quarter or more of the record calls carry no session (identity.session): if your app calls the API without it, name its User-Agent in detect.app_user_agents (or set detect.api_clients: true, which spares the website's clients too); else sessionless makes those calls one crew, which meets a crew's budget for all of them",
				"record_calls", all, "sessionless", n.Sessionless)
		}
	}
}

// clientsMinCalls: record calls before warnClients says anything.
const clientsMinCalls = 1000

// calibrate learns the budgets marked learn: true, and says in the
// decision log what moved.
func (c *ProxyCommand) calibrate(ctx context.Context) {
	var windows []time.Duration
	for _, w := range c.Config.Meter.ReportWindows {
		windows = append(windows, w.D())
	}
	proxy.Calibrate(ctx, c.Config.Meter.CalibrateEvery.D(), c.Meter, c.Engine, windows, func(cal engine.Calibration) {
		c.decisions.Operator("calibrated", slog.String("by", "leakguard"), slog.String("rule", cal.Budget),
			slog.Int("keys", cal.Keys), slog.Uint64("tail", cal.Tail), slog.Uint64("limit", cal.Limit), slog.Uint64("learnt", cal.Learnt))
		c.state.KeepLearntOf(c.Engine)
	})
}

// snapshotEvery: how often the proxy keeps what its behaviour tracker
// learnt of popularity, and its partners' histories. A crash loses at most
// this much of them, which a busy shop relearns in seconds and a quiet one
// misses little of; each keep of popularity costs a snapshot (about 55 ms
// of CPU for a busy shop's, up to two megabytes written); the partners'
// are a few hundred bytes each.
const snapshotEvery = time.Minute

// keepSnapshots keeps the tracker's popularity and the partners'
// histories every every until ctx is done (Close keeps them once more,
// after the last request).
func (c *ProxyCommand) keepSnapshots(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.keepSnapshotsNow()
		}
	}
}

func (c *ProxyCommand) keepSnapshotsNow() {
	c.popMu.Lock()
	defer c.popMu.Unlock()
	// state.persist: false with no Redis keeps nothing past the process:
	// a snapshot (~20 ms of CPU) nothing would ever restore.
	sc := &c.Config.State
	if c.stateShut || !sc.Persisting() && sc.Redis == "" {
		return
	}
	if c.behaviour != nil {
		c.state.KeepPopularityOf(c.behaviour)
	}
	if c.Engine != nil {
		c.state.KeepPartnersOf(c.Engine)
	}
}

// Close releases what Open acquired.
func (c *ProxyCommand) Close() error {
	var errs []error
	if c.server != nil {
		errs = append(errs, c.server.Close())
	}
	if c.admin != nil {
		errs = append(errs, c.admin.Close())
	}
	if c.follower != nil {
		// Before the state: lines already received are metered and flushed.
		errs = append(errs, proxy.IgnoreClosed(c.follower.Close()))
	}
	if c.state != nil {
		// After the listeners, so it has all they served; before the
		// state closes.
		c.keepSnapshotsNow()
		c.popMu.Lock()
		c.stateShut = true
		c.popMu.Unlock()
		// After the listeners: the final flush sees every request served.
		errs = append(errs, c.state.Close())
	}
	if c.closeLog != nil {
		errs = append(errs, c.closeLog.Close())
	}
	return errors.Join(errs...)
}

func levelOf(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

// serverLog is net/http's error log: a client's broken connection at
// debug, which is not the operator's concern, but a handler's panic at
// error. All at debug, an upstream's status net/http would not write
// dropped clients' connections with no word at the default level (found by
// a probe, 2026-12-05).
type serverLog struct{ log *slog.Logger }

func (s serverLog) Write(b []byte) (int, error) {
	msg := strings.TrimSpace(string(b))
	level := slog.LevelDebug
	if strings.HasPrefix(msg, "http: panic serving") {
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, msg)
	return len(b), nil
}
