// Package stack builds the engine and what feeds it (identity, records,
// detector, meter) from a configuration. The proxy, log replay, the
// benchmark and the Go middleware all build it here, so a config means the
// same policy wherever it runs.
package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/proxy"
	"github.com/leakguard/leakguard/internal/records"
)

// Stack is the engine and what feeds it, built from a config.
type Stack struct {
	Resolver *identity.Resolver
	Detector *detect.Detector
	// Behaviour is the detector's history tracker: the proxy keeps what
	// it learnt of popularity across restarts.
	Behaviour *detect.Behaviour
	UA        *detect.UAClassifier
	Catalog   *records.Catalog
	Meter     *memory.Memory
	Engine    *engine.Engine
}

// Options are what a caller adds to the stack for state that outlives the
// process or is shared with other proxies.
type Options struct {
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

// Build builds the stack for cfg. onDecision (may be nil) sees every
// decision the engine takes; getenv reads the JWT keys the identity
// section names.
func Build(cfg *config.Config, h *keyed.Hasher, onDecision func(engine.Decision), getenv func(string) string, opts Options) (*Stack, error) {
	if onDecision == nil {
		onDecision = func(engine.Decision) {}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	st := &Stack{}
	trusted, err := cfg.TrustedPrefixes()
	if err != nil {
		return nil, err
	}
	account, err := KeySource(cfg.Identity.Account, getenv)
	if err != nil {
		return nil, fmt.Errorf("identity.account: %w", err)
	}
	session, err := KeySource(cfg.Identity.Session, getenv)
	if err != nil {
		return nil, fmt.Errorf("identity.session: %w", err)
	}
	st.Resolver = identity.NewResolver(identity.Options{
		TrustedProxies: trusted, IPv4Prefix: cfg.Identity.IPv4Prefix, IPv6Prefix: cfg.Identity.IPv6Prefix,
		Account: account, Session: session, TLSFingerprintHeader: cfg.Identity.TLSFingerprintHeader,
	}, h)
	spec := records.Spec{PhoneRegions: cfg.PII.PhoneRegions, ScanAll: cfg.PII.Scan == "all"}
	if cfg.PII.Scan != "off" {
		spec.PII = cfg.PII.Detect
	}
	for _, r := range cfg.Records {
		spec.Routes = append(spec.Routes, records.RouteSpec{Route: r.Route, Entity: r.Entity, Param: r.Param, Body: r.Body, Lookup: r.Lookup, Exclude: r.Exclude,
			Methods: r.Methods, CaseSensitive: r.CaseSensitive})
	}
	if st.Catalog, err = records.NewCatalog(spec, h); err != nil {
		return nil, err
	}
	entities := st.Catalog.Entities()
	budgetsInForce := cfg.EffectiveBudgets()
	perPerson := slices.ContainsFunc(budgetsInForce, func(b config.Budget) bool { return b.PerPerson })
	// Budgets may name a PII entity whose detector is off; keep the names known.
	for _, b := range budgetsInForce {
		if st.Catalog.EntityIndex(b.Entity) < 0 {
			return nil, fmt.Errorf("budget %s: entity %q has no records route and its detector is off", b.ID(), b.Entity)
		}
	}
	// Per-person budgets count the people behind addresses as one entity
	// more, after the catalog's.
	metered, people := len(entities), -1
	if perPerson {
		metered, people = len(entities)+1, len(entities)
	}
	st.Meter = memory.New(memory.Options{
		Windows: cfg.Windows(), Entities: metered, ExactUpTo: cfg.Meter.ExactUpTo, MaxActors: cfg.Meter.MaxActors,
		Persist: opts.Persist, Load: opts.Load,
	})
	var m engine.Meter = st.Meter
	if opts.Fleet != nil {
		names := entities
		if people >= 0 {
			// The fleet keys counts by entity name: the people behind an
			// address are shared like any entity.
			names = append(slices.Clip(entities), "_people")
		}
		m = opts.Fleet(st.Meter, names)
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
			Action: act, BlockFor: b.BlockFor.D(), PerPerson: b.PerPerson, Learn: b.Learn, Allowlisted: b.Allowlisted,
		})
	}
	risk, err := Risk(cfg)
	if err != nil {
		return nil, err
	}
	st.Behaviour = detect.NewBehaviour(cfg.Meter.MaxActors)
	st.Behaviour.SurgeBirths = max(cfg.Detect.SurgeBirths, 0)
	st.Behaviour.SinglePageApp = cfg.Detect.SinglePageApp
	st.Behaviour.ItemPages = cfg.Detect.ItemPages
	if st.Detector, st.UA, err = Detector(cfg, st.Resolver, st.Behaviour, opts.Resolver, !opts.NoBotDNS); err != nil {
		return nil, err
	}
	var rules []engine.Rule
	for _, r := range cfg.Rules {
		match, err := r.Compiled()
		if err != nil {
			return nil, err
		}
		act, err := engine.ParseAction(r.Action)
		if err != nil {
			return nil, err
		}
		rules = append(rules, engine.Rule{Name: r.Name, Match: match, Action: act, For: r.For.D()})
	}
	st.Engine, err = engine.New(m, engine.Options{
		Entities: entities, Budgets: budgets, Risk: risk, Rules: rules, Shadow: cfg.Mode == config.ModeShadow, People: people,
		OnDecision: onDecision,
	})
	if err != nil {
		return nil, err
	}
	eng := st.Engine
	st.Detector.SetCrewSanctioned(func(now int64, crew identity.Key) int64 {
		return eng.SanctionedUntil(now, crew)
	})
	return st, nil
}

// Risk translates the config's risk section for the engine.
func Risk(cfg *config.Config) (engine.Risk, error) {
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

// Detector builds the detector on the history tracker b and the
// user-agent classifier; verify turns on search-engine crawler
// verification (unless the config turns it off), with dns as the resolver.
func Detector(cfg *config.Config, res *identity.Resolver, b *detect.Behaviour, dns detect.Resolver, verify bool) (*detect.Detector, *detect.UAClassifier, error) {
	ua, err := detect.NewUAClassifier()
	if err != nil {
		return nil, nil, err
	}
	o := detect.Options{Behaviour: b, APIClients: cfg.Detect.APIClients, AppUserAgents: cfg.Detect.AppUserAgents}
	if o.Allow, err = cfg.AllowPrefixes(); err != nil {
		return nil, nil, err
	}
	for _, a := range cfg.Detect.AllowAccounts {
		o.AllowKeys = append(o.AllowKeys, res.AccountKey(a))
	}
	if v := cfg.Detect.VerifySearchBots; verify && (v == nil || *v) {
		o.Verify = detect.NewBotVerifier(dns)
	}
	return detect.New(o), ua, nil
}

// Hasher returns the keyed hasher for cfg's secret: from secret.env if
// set, else secret.file (default <state.dir>/secret), generated on first
// use. Every command that hashes identifiers uses it, so their keys agree.
func Hasher(cfg *config.Config, getenv func(string) string) (h *keyed.Hasher, source string, created bool, err error) {
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

// KeySource turns a configured identifier source into identity's, loading
// the JWT verification key if one is configured.
func KeySource(k config.KeySource, getenv func(string) string) (identity.Source, error) {
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

// Decoys makes decoys and canaries; canary trace must scan dumps with the
// same scanner to find them again.
func Decoys(cfg *config.Config, h *keyed.Hasher) *canary.Maker {
	return canary.NewMaker(h.Derive("leakguard decoy key"), CanaryScanner(cfg, h))
}

// CanaryScanner finds the personal values decoys and canaries are made of.
func CanaryScanner(cfg *config.Config, h *keyed.Hasher) *records.Scanner {
	return records.NewScanner([]records.Kind{records.Phone, records.Email, records.CNID, records.BankCard}, cfg.PII.PhoneRegions, h, [4]uint64{})
}

// Sprinkles are the canary sprinkles of cfg, by route name.
func Sprinkles(cfg *config.Config, cat *records.Catalog) map[string]proxy.Sprinkle {
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

// ProxyOptions are the proxy's options for cfg over the stack, as
// `leakguard proxy` sets them, less what belongs to the process (upstream,
// transport, log, state): the one place a config becomes a policy at the
// request.
func (st *Stack) ProxyOptions(cfg *config.Config, h *keyed.Hasher, m *proxy.Metrics, ledger *canary.Ledger) proxy.Options {
	return proxy.Options{
		Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine, Metrics: m,
		MaxBodyBytes: cfg.Inspect.MaxBodyBytes,
		Detector:     st.Detector, UA: st.UA,
		Challenger: &proxy.Challenger{Secret: h.Derive("leakguard challenge key"), Difficulty: cfg.Risk.ChallengeDifficulty},
		Decoys:     Decoys(cfg, h),
		Sprinkle:   Sprinkles(cfg, st.Catalog),
		Ledger:     ledger,

		UpstreamBodyTimeout: cfg.Limits.UpstreamBodyTimeout.D(), MaxUpstreamBodyBytes: cfg.Limits.MaxUpstreamBodyBytes,
		MaxDecodedBodyBytes: cfg.Limits.MaxDecodedBodyBytes, StripMethodOverrides: cfg.Inspect.MethodOverrides == "strip",
		InFlightPerKey: cfg.Limits.InFlightPerKey, InFlightPerAddress: cfg.Limits.InFlightPerAddress, InFlightWait: cfg.Limits.InFlightWait.D(),
	}
}
