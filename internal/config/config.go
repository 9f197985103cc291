// Package config is leakguard's configuration: typed structs read from YAML,
// defaults, and a Validate that reports every problem at once with the line
// it stands on.
package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/http/httpguts"

	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/policy"
	"github.com/leakguard/leakguard/internal/records"
)

// Modes.
const (
	ModeShadow  = "shadow"
	ModeEnforce = "enforce"
)

// Actor key kinds a budget can be kept per.
var keyKinds = []string{"ip", "net", "account", "session", "fingerprint", "crew"}

// Actions a budget can take.
var actions = []string{"log", "throttle", "challenge", "decoy", "block"}

// PII detector names, usable as record entities.
var piiTypes = []string{"phone", "email", "cn_id", "bank_card"}

type Config struct {
	Listen   string   `yaml:"listen"`
	TLS      TLS      `yaml:"tls"`
	Upstream string   `yaml:"upstream"`
	Mode     string   `yaml:"mode"`
	Admin    Admin    `yaml:"admin"`
	Auth     Auth     `yaml:"auth"`
	Follow   Follow   `yaml:"follow"`
	Identity Identity `yaml:"identity"`
	Records  []Record `yaml:"records"`
	PII      PII      `yaml:"pii"`
	Inspect  Inspect  `yaml:"inspect"`
	Budgets  []Budget `yaml:"budgets"`
	// DefaultPolicy: the default policy's budgets cover every entity no
	// budget names (default true; false: only the budgets written).
	DefaultPolicy *bool      `yaml:"default_policy"`
	Detect        Detect     `yaml:"detect"`
	Risk          Risk       `yaml:"risk"`
	Rules         []Rule     `yaml:"rules"`
	Canary        Canary     `yaml:"canary"`
	Meter         MeterConf  `yaml:"meter"`
	Limits        Limits     `yaml:"limits"`
	Log           LogConf    `yaml:"log"`
	State         State      `yaml:"state"`
	Secret        SecretConf `yaml:"secret"`

	// where each field was found, for error messages; nil when built in code.
	file string
	root *yaml.Node
	// decodeErrs are the values the YAML had of the wrong type, reported
	// by Validate with every other problem.
	decodeErrs []*FieldError

	// what Validate parsed, kept so that building from the config parses
	// nothing twice (nil when built in code and not validated)
	allow, trusted []netip.Prefix
}

// TLS: the proxy terminates TLS on its listener itself, with this
// certificate and key (PEM files, both or neither). It then reads each
// client's TLS fingerprint (JA4) off its handshake, as an edge would pass
// it in identity.tls_fingerprint_header.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Auth is the auth endpoint, for an edge that asks leakguard per request
// (nginx auth_request, Traefik ForwardAuth) instead of forwarding through it.
type Auth struct {
	// Listen is its own listener's address, or off (the default).
	Listen string `yaml:"listen"`
}

// Follow is the edge's access log, received live over syslog (nginx's
// access_log syslog:server=...): records are metered from it as analyze
// meters a log, in the proxy's own engine.
type Follow struct {
	// Syslog is the UDP address to receive on, or off (the default).
	Syslog string `yaml:"syslog"`
	// Senders are the addresses or CIDR prefixes that may send log lines
	// (the edge's servers); datagrams from others are dropped and counted.
	// Left out, the loopback addresses when Syslog listens on loopback,
	// and required otherwise: anyone who can send to the port could have
	// any address metered, and so blocked.
	Senders []string `yaml:"senders"`
	// Tag, if set, is the only syslog tag metered (nginx's tag=).
	Tag string `yaml:"tag"`
	// Format and its options are analyze's: combined (default), nginx
	// (with log_format, account_var, session_var), json (with fields), alb.
	Format     string `yaml:"format"`
	LogFormat  string `yaml:"log_format"`
	AccountVar string `yaml:"account_var"`
	SessionVar string `yaml:"session_var"`
	// TLSVar: the variable in which the edge logs the client's TLS
	// fingerprint (JA4), with format nginx; with json, fields' tls=.
	TLSVar string `yaml:"tls_var"`
	Fields string `yaml:"fields"`
	// Queue bounds the datagrams waiting to be metered (default 8192).
	Queue int `yaml:"queue"`
}

type Admin struct {
	Listen   string `yaml:"listen"`
	TokenEnv string `yaml:"token_env"`
	// ReportsDir holds analyze and audit JSON reports for the dashboard to list.
	ReportsDir string `yaml:"reports_dir"`
}

type Identity struct {
	TrustedProxies []string  `yaml:"trusted_proxies"`
	Account        KeySource `yaml:"account"`
	Session        KeySource `yaml:"session"`
	IPv4Prefix     int       `yaml:"ipv4_prefix"`
	IPv6Prefix     int       `yaml:"ipv6_prefix"`
	// TLSFingerprintHeader: the header in which the edge terminating TLS
	// passes the client's TLS fingerprint (JA4 or JA3), added to the
	// fingerprint key; believed only from trusted_proxies.
	TLSFingerprintHeader string `yaml:"tls_fingerprint_header"`
}

// KeySource names where in a request an identifier is found. At most one field is set.
type KeySource struct {
	Header   string `yaml:"header"`
	Cookie   string `yaml:"cookie"`
	JWTClaim string `yaml:"jwt_claim"`
	// With jwt_claim: verify tokens with the HMAC secret in this environment
	// variable, or with the PEM public key in this file.
	JWTKeyEnv        string `yaml:"jwt_key_env"`
	JWTPublicKeyFile string `yaml:"jwt_public_key_file"`
}

func (k KeySource) IsZero() bool { return k == KeySource{} }

type Record struct {
	Route  string `yaml:"route"`
	Entity string `yaml:"entity"`
	// Param names the path parameter that identifies the record; by default the last one.
	Param string `yaml:"param"`
	// Body is a JSONPath ($.a.b[*].c) to record identifiers in the JSON response.
	Body string `yaml:"body"`
	// Lookup names the query parameter a lookup route takes its value from
	// (e.g. phone), for the unshown_lookups signal.
	Lookup string `yaml:"lookup"`
	// Exclude lists path patterns the route does not count (path.Match
	// globs on the whole path, or on its last segment when the pattern has
	// no slash: "*.png", "/static/*"), e.g. assets under GET /{page...}.
	Exclude []string `yaml:"exclude"`
	// Methods, if listed, are the only methods that count on the route;
	// by default every method does (the route's written method documents).
	Methods []string `yaml:"methods"`
	// CaseSensitive makes the route's literal segments match only in the
	// case written; by default /API/Users/7 is /api/users/7.
	CaseSensitive bool `yaml:"case_sensitive"`
}

type PII struct {
	// Detect lists the detectors run over response bodies.
	Detect []string `yaml:"detect"`
	// PhoneRegions are the regions whose national-format numbers are recognised.
	PhoneRegions []string `yaml:"phone_regions"`
	// Scan is where detectors run: all (every text-like response), records (record routes only), off.
	Scan string `yaml:"scan"`
}

type Inspect struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MethodOverrides: count (X-HTTP-Method-Override and _method are
	// honoured for matching, and passed on) or strip (removed before the
	// upstream sees them).
	MethodOverrides string `yaml:"method_overrides"`
}

type Budget struct {
	Name     string   `yaml:"name"`
	Entity   string   `yaml:"entity"`
	Per      string   `yaml:"per"`
	Window   Duration `yaml:"window"`
	Limit    int64    `yaml:"limit"`
	Action   string   `yaml:"action"`
	BlockFor Duration `yaml:"block_for"`
	// PerPerson (per ip or net only): the limit is per person seen behind
	// the key, so shoppers sharing a carrier NAT are not one actor.
	PerPerson bool `yaml:"per_person,omitempty"`
	// Learn: the proxy may raise the limit (up to ten times) to three
	// times the legitimate tail of what keys of this kind take (per
	// person: the limit follows what the session budget of the same
	// entity and window learnt).
	Learn bool `yaml:"learn,omitempty"`
	// Allowlisted: the budget applies to allowlisted actors (detect.allow,
	// allow_accounts, verified search bots) alone; others skip it.
	Allowlisted bool `yaml:"allowlisted,omitempty"`
}

// ID names a budget in logs and metrics when it has no name.
func (b Budget) ID() string {
	if b.Name != "" {
		return b.Name
	}
	return fmt.Sprintf("%s/%s/%s", b.Entity, b.Per, b.Window)
}

// Detect configures what is exempt from sanctions.
type Detect struct {
	// Allow lists addresses or prefixes exempt from every sanction (still
	// metered): partners, your own offices.
	Allow []string `yaml:"allow"`
	// AllowAccounts lists account values (as identity.account yields them)
	// exempt from every sanction.
	AllowAccounts []string `yaml:"allow_accounts"`
	// VerifySearchBots checks clients that claim to be search-engine
	// crawlers by reverse and forward DNS; verified ones are exempt.
	VerifySearchBots *bool `yaml:"verify_search_bots"`
	// APIClients: legitimate clients call the record routes without the
	// pages and assets a browser loads through leakguard, or without a
	// session (a mobile app, a frontend served from elsewhere). Requests
	// without a session, or from a session that never loaded a page or
	// asset, are then not made a crew (sessionless, no_assets).
	APIClients bool `yaml:"api_clients"`
	// AppUserAgents: User-Agent prefixes of the operator's own apps
	// ("ShopApp/", "okhttp/"). Their record calls are not sessionless
	// or no_assets; the web's still are, unlike with api_clients, which
	// spares every client.
	AppUserAgents []string `yaml:"app_user_agents"`
	// SurgeBirths: more sessions than this making their first record call
	// on one network within 10 s (and ten times its rate of the last
	// hour) is a surge, whose young sessions are nobody behind the
	// network (-1: off).
	SurgeBirths int `yaml:"surge_births"`
	// SinglePageApp: the shop is a single-page app: its people load a
	// page and its scripts, then call the record routes about items with
	// no page of their own. Whether items have pages is otherwise voted
	// by the sessions that stay, scrapers' too.
	SinglePageApp bool `yaml:"single_page_app"`
	// ItemPages: the shop's items have pages that its browsers load
	// before asking the record routes about them, whatever the sessions
	// vote: a crowd landing on the home page from addresses of its own,
	// calling on without an item's page, votes otherwise until it is
	// seen.
	ItemPages bool `yaml:"item_pages"`
}

// Risk weighs the detector's signals on record routes and maps the score
// to actions.
type Risk struct {
	Weights     map[string]int `yaml:"weights"`
	Bands       []RiskBand     `yaml:"bands"`
	Enumeration Enumeration    `yaml:"enumeration"`
	// ChallengeDifficulty is the proof of work a challenge asks, in
	// leading zero bits of SHA-256 (16: ~65k hashes, well under a second
	// in a browser).
	ChallengeDifficulty int `yaml:"challenge_difficulty"`
}

// Rule is a custom rule: an expr-lang expression over the request (route,
// signals, score, has.<key kind>, requests, misses) and the action when it
// holds, e.g. when: 'route == "GET /api/lookup" && !has.account'.
type Rule struct {
	Name   string   `yaml:"name"`
	When   string   `yaml:"when"`
	Action string   `yaml:"action"`
	For    Duration `yaml:"for"`

	compiled *policy.Rule // by Validate
}

// Compiled is the rule's condition, compiled once: by Validate, else now.
func (r Rule) Compiled() (*policy.Rule, error) {
	if r.compiled != nil {
		return r.compiled, nil
	}
	return policy.Compile(r.Name, r.When)
}

// AllowPrefixes are detect.allow's prefixes, parsed once.
func (c *Config) AllowPrefixes() ([]netip.Prefix, error) {
	if c.allow != nil || len(c.Detect.Allow) == 0 {
		return c.allow, nil
	}
	return parsePrefixes(c.Detect.Allow)
}

// TrustedPrefixes are identity.trusted_proxies' prefixes, parsed once.
func (c *Config) TrustedPrefixes() ([]netip.Prefix, error) {
	if c.trusted != nil || len(c.Identity.TrustedProxies) == 0 {
		return c.trusted, nil
	}
	return parsePrefixes(c.Identity.TrustedProxies)
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

type RiskBand struct {
	Min    int      `yaml:"min"`
	Action string   `yaml:"action"`
	For    Duration `yaml:"for"`
}

type Enumeration struct {
	MinRequests int     `yaml:"min_requests"`
	MissRatio   float64 `yaml:"miss_ratio"`
}

// Canary configures honeytoken records.
type Canary struct {
	Sprinkle []Sprinkle `yaml:"sprinkle"`
}

// Sprinkle adds, to a share of a route's responses, one canary element in a
// JSON array: a copy of its first element with synthetic values.
type Sprinkle struct {
	Route string  `yaml:"route"` // a records route, as written there
	Array string  `yaml:"array"` // JSONPath to the array, e.g. $.reviews
	Rate  float64 `yaml:"rate"`  // share of responses, 0 to 1
}

var arrayPathRe = regexp.MustCompile(`^\$(\.[A-Za-z0-9_-]+)+$`)

// GJSONPath turns "$.a.b" into gjson's "a.b".
func (s Sprinkle) GJSONPath() string { return strings.TrimPrefix(s.Array, "$.") }

// signalNames are the signals risk.weights may name.
var signalNames = []string{"automation_ua", "unverified_bot", "sessionless", "no_assets", "enumeration", "cold_sweep", "machine_timing", "sequential_ids", "header_mismatch", "unshown_lookups", "rapid", "api_heavy", "session_churn", "stranger_crowd"}

type MeterConf struct {
	// MaxActors bounds how many actor keys are held; the least recently seen are evicted.
	MaxActors int `yaml:"max_actors"`
	// ExactUpTo is how many distinct records per actor and entity are kept exactly
	// before switching to a HyperLogLog sketch.
	ExactUpTo int `yaml:"exact_up_to"`
	// MaxBytes, if set, bounds the memory actor state holds: max_actors is
	// lowered to what the bytes pay for, at the measured cost of an actor
	// key (docs/state-and-fleet.md). 0: max_actors alone bounds it.
	MaxBytes int64 `yaml:"max_bytes"`
	// ReportWindows are metered for every actor even when no budget uses them (for /api/actors).
	ReportWindows []Duration `yaml:"report_windows"`
	// CalibrateEvery is how often budgets marked learn: true (the default
	// policy's per session and account) learn from what keys take.
	CalibrateEvery Duration `yaml:"calibrate_every"`
}

type Limits struct {
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	UpstreamTimeout   Duration `yaml:"upstream_timeout"`
	MaxIdleConns      int      `yaml:"upstream_idle_conns"`
	// Upstream bodies: total time from the response headers to the body's
	// end, bytes as sent (coded), and bytes each content coding decodes to.
	UpstreamBodyTimeout  Duration `yaml:"upstream_body_timeout"`
	MaxUpstreamBodyBytes int64    `yaml:"max_upstream_body_bytes"`
	MaxDecodedBodyBytes  int64    `yaml:"max_decoded_body_bytes"`
	// MaxConns caps the client connections the proxy listener holds; more
	// wait unaccepted, so a flood cannot take the descriptors the admin
	// listener (not capped) needs.
	MaxConns int `yaml:"max_conns"`
	// InFlightPerKey and InFlightPerAddress cap the record requests a
	// session or account, and an address, has in flight at once (-1: no
	// cap): budgets are checked on arrival and records counted once
	// served, so without a cap every open connection is served on the
	// same count. InFlightWait bounds a request's wait for a slot.
	InFlightPerKey     int      `yaml:"in_flight_per_key"`
	InFlightPerAddress int      `yaml:"in_flight_per_address"`
	InFlightWait       Duration `yaml:"in_flight_wait"`
}

type LogConf struct {
	// Decisions is where decision lines go: stdout, stderr, or a file path.
	Decisions string `yaml:"decisions"`
	Level     string `yaml:"level"`
}

type State struct {
	// Dir holds the hashing secret, the generated admin token and, unless
	// Persist is false, the embedded store (state.db).
	Dir string `yaml:"dir"`
	// Persist keeps meter state and blocks in Dir/state.db across restarts.
	Persist *bool `yaml:"persist"`
	// FlushInterval is how often state is written: on a crash at most this
	// much is lost; in fleet mode, how stale another proxy's counts can be.
	// 10 s on local disk, 2 s in a fleet.
	FlushInterval Duration `yaml:"flush_interval"`
	// Redis, a redis:// or rediss:// URL, shares counts and blocks across
	// a fleet of proxies.
	Redis string `yaml:"redis"`
	// Fail is what to do while Redis is unreachable: open (serve on local
	// state) or closed (refuse record routes with 503).
	Fail string `yaml:"fail"`
}

// UnmarshalYAML also takes the short forms "state: ./dir" and
// "state: redis://host:6379/0".
func (s *State) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if strings.HasPrefix(n.Value, "redis://") || strings.HasPrefix(n.Value, "rediss://") {
			s.Redis = n.Value
		} else {
			s.Dir = n.Value
		}
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; k.Value {
		case "dir", "persist", "flush_interval", "redis", "fail":
		default:
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in state (want dir, persist, flush_interval, redis, fail)", k.Line, k.Value)}}
		}
	}
	type plain State
	return n.Decode((*plain)(s))
}

// Persisting reports whether meter state and blocks go to Dir/state.db.
func (s *State) Persisting() bool { return s.Persist == nil || *s.Persist }

type SecretConf struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// Default returns a configuration with every default filled in and no records or budgets.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defDur := func(p *Duration, v time.Duration) {
		if *p == 0 {
			*p = Duration(v)
		}
	}
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.Mode, ModeShadow)
	def(&c.Admin.Listen, "127.0.0.1:9090")
	def(&c.Auth.Listen, "off")
	def(&c.Follow.Syslog, "off")
	def(&c.Follow.Format, "combined")
	defInt(&c.Follow.Queue, 8192)
	def(&c.Admin.TokenEnv, "LEAKGUARD_ADMIN_TOKEN")
	defInt(&c.Identity.IPv4Prefix, 24)
	defInt(&c.Identity.IPv6Prefix, 48)
	if c.PII.Detect == nil {
		c.PII.Detect = append([]string(nil), piiTypes...)
	}
	if c.PII.PhoneRegions == nil {
		c.PII.PhoneRegions = []string{"CN"}
	}
	def(&c.PII.Scan, "all")
	if c.Inspect.MaxBodyBytes == 0 {
		c.Inspect.MaxBodyBytes = 1 << 20
	}
	def(&c.Inspect.MethodOverrides, "count")
	for i := range c.Budgets {
		b := &c.Budgets[i]
		def(&b.Action, "log")
		if (b.Action == "block" || b.Action == "decoy" || b.Action == "challenge") && b.BlockFor == 0 {
			b.BlockFor = b.Window
		}
	}
	if c.Risk.Weights == nil {
		// rapid: a session that loaded no page, faster than a person
		// reads and shown the tail (no_assets, cold_sweep) is the issue's
		// fast session; at 4 it was challenged only while its intervals
		// were machine-regular, and one with a jitter, or slowed by a
		// loaded machine, took its session's budget (~550 records,
		// 2026-12-03). A clerk is not rapid; a person who loads pages
		// has no no_assets.
		c.Risk.Weights = map[string]int{"automation_ua": 5, "unverified_bot": 5, "enumeration": 10, "sessionless": 1, "no_assets": 1,
			"cold_sweep": 3, "machine_timing": 2, "sequential_ids": 3, "header_mismatch": 2, "unshown_lookups": 3,
			"rapid": 1}
	}
	if c.Risk.Bands == nil {
		c.Risk.Bands = []RiskBand{
			{Min: 5, Action: "challenge", For: Duration(10 * time.Minute)},
			{Min: 10, Action: "block", For: Duration(time.Hour)},
		}
	}
	defInt(&c.Risk.Enumeration.MinRequests, 20)
	defInt(&c.Risk.ChallengeDifficulty, 16)
	if c.Risk.Enumeration.MissRatio == 0 {
		c.Risk.Enumeration.MissRatio = 0.5
	}
	for i := range c.Risk.Bands {
		if c.Risk.Bands[i].For == 0 {
			c.Risk.Bands[i].For = Duration(10 * time.Minute)
		}
	}
	defInt(&c.Meter.MaxActors, 500_000) // ~750 B each: ~370 MiB
	defInt(&c.Meter.ExactUpTo, 128)
	defDur(&c.Meter.CalibrateEvery, 5*time.Minute)
	if c.Meter.ReportWindows == nil {
		c.Meter.ReportWindows = []Duration{Duration(time.Hour), Duration(24 * time.Hour)}
	}
	defInt(&c.Limits.MaxHeaderBytes, 64<<10)
	defDur(&c.Limits.ReadHeaderTimeout, 10*time.Second)
	defDur(&c.Limits.ReadTimeout, 60*time.Second)
	defDur(&c.Limits.IdleTimeout, 120*time.Second)
	defDur(&c.Limits.UpstreamTimeout, 30*time.Second)
	defInt(&c.Limits.MaxIdleConns, 512)
	defInt(&c.Limits.MaxConns, 10000)
	defInt(&c.Detect.SurgeBirths, 50)
	defInt(&c.Limits.InFlightPerKey, 8)
	defInt(&c.Limits.InFlightPerAddress, 64)
	defDur(&c.Limits.InFlightWait, 30*time.Second)
	defDur(&c.Limits.UpstreamBodyTimeout, 5*time.Minute)
	if c.Limits.MaxUpstreamBodyBytes == 0 {
		c.Limits.MaxUpstreamBodyBytes = 1 << 30
	}
	if c.Limits.MaxDecodedBodyBytes == 0 {
		c.Limits.MaxDecodedBodyBytes = 1 << 30
	}
	def(&c.Log.Decisions, "stdout")
	def(&c.Log.Level, "info")
	def(&c.State.Dir, "./leakguard-state")
	// On local disk a flush only bounds what a crash loses, and each one
	// rewrites every actor changed since the last: under bench/people.lua
	// some 18,000 every 2 s, most of the file's pages. In a fleet the
	// interval is also how stale the other proxies' counts are.
	if c.State.Redis == "" {
		defDur(&c.State.FlushInterval, 10*time.Second)
	} else {
		defDur(&c.State.FlushInterval, 2*time.Second)
	}
	def(&c.State.Fail, "open")
	def(&c.Secret.Env, "LEAKGUARD_SECRET")
}

// Load reads, defaults and validates a YAML file. Errors name the file and line.
func Load(path string) (*Config, error) {
	c, err := Read(path)
	if err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// Read reads and defaults a YAML file without validating it, so that
// command-line flags can be applied before Validate: a file with no
// upstream is complete once --upstream is given.
func Read(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(path, data)
}

var yamlLineRe = regexp.MustCompile(`line (\d+): `)

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Parse is Load on bytes already read; name is used in error messages.
func Parse(name string, data []byte) (*Config, error) {
	c, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Decode is Read on bytes already read: YAML decoded and defaults applied,
// not validated.
func Decode(name string, data []byte) (*Config, error) {
	c := &Config{file: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if yamlLineRe.MatchString(msg) {
			return nil, errors.New(yamlLineRe.ReplaceAllString(msg, name+":$1: "))
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		// yaml reports "line N: msg"; turn each into "file:N: msg".
		msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
		msg = strings.TrimPrefix(msg, "yaml: ")
		var lines []string
		var te *yaml.TypeError
		for _, l := range strings.Split(msg, "\n") {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			lines = append(lines, yamlLineRe.ReplaceAllString(l, name+":$1: "))
			// A value of the wrong type (or an unknown field): the rest
			// of the file is decoded, and Validate reports these with
			// every other problem. Returned at once, they hid the rest,
			// which the next run then found one by one.
			if m := yamlLineRe.FindStringSubmatch(l); m != nil && errors.As(err, &te) {
				n, _ := strconv.Atoi(m[1])
				c.decodeErrs = append(c.decodeErrs, &FieldError{File: name, Line: n, Msg: yamlLineRe.ReplaceAllString(l, "")})
			}
		}
		if te == nil || len(c.decodeErrs) != len(lines) {
			return nil, errors.New(strings.Join(lines, "\n"))
		}
	}
	c.root = &root
	c.applyDefaults()
	return c, nil
}

// FieldError is one problem at one place in the configuration.
type FieldError struct {
	File string
	Line int
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	switch {
	case e.File != "" && e.Line > 0 && e.Path == "":
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s: %s", e.File, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Validate checks the whole configuration, as the proxy needs it, and
// joins every problem found.
func (c *Config) Validate() error { return c.validate(true) }

// ValidateOffline is Validate for the commands that forward nothing
// (analyze, bench, canary): upstream may be left out.
func (c *Config) ValidateOffline() error { return c.validate(false) }

// LoadOffline is Load for the commands that forward nothing.
func LoadOffline(path string) (*Config, error) {
	c, err := Read(path)
	if err != nil {
		return nil, err
	}
	return c, c.ValidateOffline()
}

func (c *Config) validate(proxying bool) error {
	var errs []error
	decoded := map[int]bool{}
	for _, e := range c.decodeErrs {
		errs = append(errs, e)
		decoded[e.Line] = true
	}
	add := func(path, format string, args ...any) {
		line := c.lineOf(path)
		if line > 0 && decoded[line] {
			return // the value's type is wrong, reported above
		}
		errs = append(errs, &FieldError{File: c.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		if _, _, err2 := splitHostPort(c.Listen); err2 != nil {
			add("listen", "want host:port, got %q", c.Listen)
		}
	}
	if c.Upstream == "" {
		if proxying {
			add("upstream", "required: the URL of the API to protect, e.g. http://127.0.0.1:9000")
		}
	} else if u, err := url.Parse(c.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("upstream", "want an http:// or https:// URL with a host, got %q", c.Upstream)
	}
	if c.Mode != ModeShadow && c.Mode != ModeEnforce {
		add("mode", "want shadow or enforce, got %q", c.Mode)
	}
	c.allow = nil
	for i, a := range c.Detect.Allow {
		if p, err := ParsePrefix(a); err != nil {
			add(fmt.Sprintf("detect.allow[%d]", i), "%v", err)
		} else {
			c.allow = append(c.allow, p)
		}
	}
	for name := range c.Risk.Weights {
		if !slices.Contains(signalNames, name) {
			add("risk.weights", "unknown signal %q (want %s)", name, strings.Join(signalNames, ", "))
		}
	}
	for i, b := range c.Risk.Bands {
		path := fmt.Sprintf("risk.bands[%d]", i)
		switch b.Action {
		case "log", "throttle", "challenge", "decoy", "block":
		default:
			add(path+".action", "want log, throttle, challenge, decoy or block, got %q", b.Action)
		}
		if b.Min < 1 {
			add(path+".min", "want a positive score, got %d", b.Min)
		}
	}
	for i, sp := range c.Canary.Sprinkle {
		path := fmt.Sprintf("canary.sprinkle[%d]", i)
		found := false
		for _, r := range c.Records {
			found = found || r.Route == sp.Route
		}
		if !found {
			add(path+".route", "%q is not one of the records routes", sp.Route)
		}
		if !arrayPathRe.MatchString(sp.Array) {
			add(path+".array", "want a JSONPath to an array such as $.reviews, got %q", sp.Array)
		}
		if sp.Rate <= 0 || sp.Rate > 1 {
			add(path+".rate", "want a share in (0, 1], got %v", sp.Rate)
		}
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		if !nameRe.MatchString(r.Name) {
			add(path+".name", "want a name of letters, digits, _ and -, got %q", r.Name)
		} else if names[r.Name] {
			add(path+".name", "duplicate rule name %q", r.Name)
		}
		names[r.Name] = true
		switch r.Action {
		case "log", "throttle", "challenge", "decoy", "block":
		default:
			add(path+".action", "want log, throttle, challenge, decoy or block, got %q", r.Action)
		}
		if m, err := policy.Compile(r.Name, r.When); err != nil {
			msg, _, _ := strings.Cut(err.Error(), "\n") // the first line; expr adds a caret drawing
			add(path+".when", "%s", strings.TrimSpace(msg))
		} else {
			c.Rules[i].compiled = m
		}
	}
	if d := c.Risk.ChallengeDifficulty; d < 1 || d > 28 {
		add("risk.challenge_difficulty", "want 1 to 28 bits, got %d", d)
	}
	if r := c.Risk.Enumeration.MissRatio; r <= 0 || r > 1 {
		add("risk.enumeration.miss_ratio", "want a ratio in (0, 1], got %v", r)
	}
	if c.State.Fail != "open" && c.State.Fail != "closed" {
		add("state.fail", "want open or closed, got %q", c.State.Fail)
	}
	if d := time.Duration(c.State.FlushInterval); d < 10*time.Millisecond || d > time.Minute {
		add("state.flush_interval", "want 10ms to 1m, got %s", d)
	}
	if r := c.State.Redis; r != "" {
		if u, err := url.Parse(r); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			add("state.redis", "want redis://host:port/db or rediss://..., got %q", r)
		}
	}
	if _, _, err := splitHostPort(c.Admin.Listen); err != nil && c.Admin.Listen != "off" {
		add("admin.listen", "want host:port or off, got %q", c.Admin.Listen)
	}
	if _, _, err := splitHostPort(c.Auth.Listen); err != nil && c.Auth.Listen != "off" {
		add("auth.listen", "want host:port or off, got %q", c.Auth.Listen)
	}
	if f := c.Follow; f.Syslog != "off" {
		if path, ok := strings.CutPrefix(f.Syslog, "unix:"); ok {
			// A unix datagram socket: who may send is who may write it
			// (its mode and group), not an address.
			if !filepath.IsAbs(path) {
				add("follow.syslog", "want unix: and an absolute path, got %q", f.Syslog)
			}
			if len(f.Senders) > 0 {
				add("follow.senders", "a unix socket has no sender addresses: its file's mode and group say who may send")
			}
		} else if host, _, err := splitHostPort(f.Syslog); err != nil {
			add("follow.syslog", "want host:port, unix:/path or off, got %q", f.Syslog)
		} else if len(f.Senders) == 0 {
			// Without DNS: a host name other than localhost, or no host
			// (every address), is taken as beyond loopback.
			h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
			a, err := netip.ParseAddr(h)
			if h != "localhost" && (err != nil || !a.Unmap().IsLoopback()) {
				add("follow.senders", "required when follow.syslog listens beyond loopback: the addresses of the nginx servers that send their access log")
			}
		}
		for i, s := range f.Senders {
			if _, err := ParsePrefix(s); err != nil {
				add(fmt.Sprintf("follow.senders[%d]", i), "%v", err)
			}
		}
		before := len(errs)
		switch f.Format {
		case "combined", "common", "json", "alb":
		case "nginx":
			if _, err := logs.NewNginxFormat(f.LogFormat); err != nil {
				add("follow.log_format", "%v", err)
			}
		default:
			add("follow.format", "want combined, nginx, json or alb, got %q", f.Format)
		}
		if f.Format == "json" {
			if _, err := logs.ParseJSONFields(f.Fields); err != nil {
				add("follow.fields", "%v", err)
			}
		}
		if len(errs) == before {
			// what is left to check: the variables named
			if _, _, err := logs.ParserOf(logs.Spec{Format: f.Format, LogFormat: f.LogFormat, AccountVar: f.AccountVar, SessionVar: f.SessionVar, TLSVar: f.TLSVar, Fields: f.Fields}); err != nil {
				add("follow", "%v", err)
			}
		}
		if f.Queue < 1 || f.Queue > 1<<20 {
			add("follow.queue", "want 1 to 1048576, got %d", f.Queue)
		}
	}
	c.trusted = nil
	for i, p := range c.Identity.TrustedProxies {
		if pr, err := ParsePrefix(p); err != nil {
			add(fmt.Sprintf("identity.trusted_proxies[%d]", i), "%v", err)
		} else {
			c.trusted = append(c.trusted, pr)
		}
	}
	for name, ks := range map[string]KeySource{"identity.account": c.Identity.Account, "identity.session": c.Identity.Session} {
		n := 0
		for _, v := range []string{ks.Header, ks.Cookie, ks.JWTClaim} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			add(name, "set only one of header, cookie, jwt_claim")
		}
		if (ks.JWTKeyEnv != "" || ks.JWTPublicKeyFile != "") && ks.JWTClaim == "" {
			add(name, "jwt_key_env and jwt_public_key_file go with jwt_claim")
		}
		if ks.JWTKeyEnv != "" && ks.JWTPublicKeyFile != "" {
			add(name, "set jwt_key_env or jwt_public_key_file, not both")
		}
	}
	if p := c.Identity.IPv4Prefix; p < 8 || p > 32 {
		add("identity.ipv4_prefix", "want 8..32, got %d", p)
	}
	if p := c.Identity.IPv6Prefix; p < 16 || p > 128 {
		add("identity.ipv6_prefix", "want 16..128, got %d", p)
	}
	for i, p := range c.Detect.AppUserAgents {
		// A short prefix ("M") would match every browser ("Mozilla/5.0"),
		// and spare the web's swarms with the apps.
		if len(p) < 4 || strings.HasPrefix("Mozilla/", p) || strings.HasPrefix(p, "Mozilla/") {
			add(fmt.Sprintf("detect.app_user_agents[%d]", i), "%q would match browsers: give your app's own User-Agent prefix (4 characters or more, not Mozilla/)", p)
		}
	}
	if c.Detect.SinglePageApp && c.Detect.ItemPages {
		add("detect.item_pages", "a single-page app's items have no pages: set detect.single_page_app or detect.item_pages, not both")
	}
	if c.Detect.SurgeBirths < -1 {
		add("detect.surge_births", "want a positive number of sessions, or -1 for off, got %d", c.Detect.SurgeBirths)
	}
	switch t := c.TLS; {
	case (t.CertFile == "") != (t.KeyFile == ""):
		add("tls", "give both cert_file and key_file (PEM), or neither to serve plain HTTP")
	case t.CertFile != "" && proxying:
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			add("tls.cert_file", "%v", err)
		}
	}
	if h := c.Identity.TLSFingerprintHeader; h != "" {
		switch {
		case !httpguts.ValidHeaderFieldName(h):
			add("identity.tls_fingerprint_header", "%q is not a header name", h)
		case len(c.Identity.TrustedProxies) == 0:
			add("identity.tls_fingerprint_header", "needs identity.trusted_proxies: the header is believed only from the edge that sets it (from anyone else it is the client's own claim)")
		case strings.EqualFold(h, c.Identity.Account.Header) || strings.EqualFold(h, c.Identity.Session.Header):
			add("identity.tls_fingerprint_header", "%q is already the account or session header", h)
		}
	}
	entities := map[string]bool{}
	for _, t := range c.PII.Detect {
		if !contains(piiTypes, t) {
			add("pii.detect", "unknown detector %q (have %s)", t, strings.Join(piiTypes, ", "))
		}
		// With scanning off no PII record is ever counted: a budget on
		// one would never trip, and the proxy refuses it at start.
		if c.PII.Scan != "off" {
			entities[t] = true
		}
	}
	if !contains([]string{"all", "records", "off"}, c.PII.Scan) {
		add("pii.scan", "want all, records or off, got %q", c.PII.Scan)
	}
	for i, r := range c.PII.PhoneRegions {
		if len(r) != 2 || strings.ToUpper(r) != r {
			add(fmt.Sprintf("pii.phone_regions[%d]", i), "want a two-letter region code such as CN, got %q", r)
		}
	}
	for i, r := range c.Records {
		p := fmt.Sprintf("records[%d]", i)
		if rt, err := records.ParseRoute(r.Route); err != nil {
			add(p+".route", "%v", err)
		} else if r.Param != "" && rt.ParamIndex(r.Param) < 0 {
			add(p+".param", "%q is not a parameter of route %q", r.Param, r.Route)
		} else if r.Body == "" && len(rt.Params) == 0 {
			add(p+".route", "a route without a {param} needs body: to say where its records are")
		}
		if r.Entity == "" {
			add(p+".entity", "required: the kind of record this route serves, e.g. user")
		} else if !validName(r.Entity) {
			add(p+".entity", "use letters, digits, _ and -, got %q", r.Entity)
		}
		if r.Body != "" {
			if _, err := records.ParseJSONPath(r.Body); err != nil {
				add(p+".body", "%v", err)
			}
		}
		if rt, err := records.ParseRoute(r.Route); err == nil {
			if err := rt.Restrict(r.Methods); err != nil {
				add(p+".methods", "want methods among GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS: %v", err)
			}
		}
		for j, x := range r.Exclude {
			if _, err := path.Match(x, ""); err != nil || x == "" {
				add(fmt.Sprintf("%s.exclude[%d]", p, j), "want a path pattern such as *.png or /static/*, got %q", x)
			}
		}
		entities[r.Entity] = true
	}
	seen := map[string]bool{}
	for i, b := range c.Budgets {
		p := fmt.Sprintf("budgets[%d]", i)
		if !entities[b.Entity] {
			add(p+".entity", "%q is not an entity of any records route or PII detector", b.Entity)
		}
		if !contains(keyKinds, b.Per) {
			add(p+".per", "want one of %s, got %q", strings.Join(keyKinds, ", "), b.Per)
		}
		if w := b.Window.D(); w < time.Second || w > 366*24*time.Hour {
			add(p+".window", "want a duration from 1s to 366d, got %q", b.Window)
		}
		if b.Limit <= 0 {
			add(p+".limit", "want a positive number of distinct records, got %d", b.Limit)
		}
		if !contains(actions, b.Action) {
			add(p+".action", "want one of %s, got %q", strings.Join(actions, ", "), b.Action)
		}
		if b.BlockFor < 0 {
			add(p+".block_for", "must not be negative")
		}
		if b.PerPerson && b.Per != "ip" && b.Per != "net" {
			add(p+".per_person", "goes with per: ip or per: net, not %q", b.Per)
		}
		if seen[b.ID()] {
			add(p, "duplicate budget %q; give one a name:", b.ID())
		}
		seen[b.ID()] = true
	}
	// Each goes to net/http, which reads a negative one as no limit at
	// all: a slowloris client held, an upstream waited on forever, any
	// header size taken (found by a probe, 2026-12-05).
	for _, d := range []struct {
		key string
		v   Duration
	}{{"read_header_timeout", c.Limits.ReadHeaderTimeout}, {"read_timeout", c.Limits.ReadTimeout}, {"idle_timeout", c.Limits.IdleTimeout}, {"upstream_timeout", c.Limits.UpstreamTimeout}} {
		if d.v < 0 {
			add("limits."+d.key, "must not be negative (it would be no limit at all), got %s", d.v)
		}
	}
	if c.Limits.MaxHeaderBytes < 0 {
		add("limits.max_header_bytes", "must not be negative (it would be no limit at all), got %d", c.Limits.MaxHeaderBytes)
	}
	if c.Limits.MaxIdleConns < 0 {
		add("limits.upstream_idle_conns", "must not be negative, got %d", c.Limits.MaxIdleConns)
	}
	if c.Limits.MaxConns < 1 {
		add("limits.max_conns", "want a positive number of connections, got %d", c.Limits.MaxConns)
	}
	if c.Limits.InFlightPerKey < -1 {
		add("limits.in_flight_per_key", "want a positive number of requests, or -1 for no cap, got %d", c.Limits.InFlightPerKey)
	}
	if c.Limits.InFlightPerAddress < -1 {
		add("limits.in_flight_per_address", "want a positive number of requests, or -1 for no cap, got %d", c.Limits.InFlightPerAddress)
	}
	if c.Limits.InFlightWait < 0 {
		add("limits.in_flight_wait", "must not be negative, got %s", c.Limits.InFlightWait)
	}
	for i, w := range c.Meter.ReportWindows {
		if w.D() < time.Second || w.D() > 366*24*time.Hour {
			add(fmt.Sprintf("meter.report_windows[%d]", i), "want a duration from 1s to 366d, got %q", w)
		}
	}
	// Every command reads the longest window metered, and the signals the
	// smallest: there must be one.
	if len(c.Windows()) == 0 {
		add("meter.report_windows", "empty, and no budget names a window: meter at least one, e.g. [1h]")
	}
	if c.Inspect.MaxBodyBytes < 0 || c.Inspect.MaxBodyBytes > 64<<20 {
		add("inspect.max_body_bytes", "want 0..67108864, got %d", c.Inspect.MaxBodyBytes)
	}
	if c.Inspect.MethodOverrides != "count" && c.Inspect.MethodOverrides != "strip" {
		add("inspect.method_overrides", "want count or strip, got %q", c.Inspect.MethodOverrides)
	}
	if c.Limits.UpstreamBodyTimeout < 0 {
		add("limits.upstream_body_timeout", "must not be negative")
	}
	if c.Limits.MaxUpstreamBodyBytes < 0 {
		add("limits.max_upstream_body_bytes", "must not be negative, got %d", c.Limits.MaxUpstreamBodyBytes)
	}
	if c.Limits.MaxDecodedBodyBytes < 0 {
		add("limits.max_decoded_body_bytes", "must not be negative, got %d", c.Limits.MaxDecodedBodyBytes)
	}
	if c.Meter.MaxActors < 1000 {
		add("meter.max_actors", "want at least 1000, got %d", c.Meter.MaxActors)
	}
	if c.Meter.MaxBytes != 0 && c.Meter.MaxBytes < 1<<20 {
		add("meter.max_bytes", "want 0 (off) or at least 1 MiB (1048576), got %d", c.Meter.MaxBytes)
	}
	if d := c.Meter.CalibrateEvery.D(); d < time.Second {
		add("meter.calibrate_every", "want at least 1s, got %s", c.Meter.CalibrateEvery)
	}
	if c.Meter.ExactUpTo < 0 || c.Meter.ExactUpTo > 4096 {
		add("meter.exact_up_to", "want 0..4096, got %d", c.Meter.ExactUpTo)
	}
	if !contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	// In file order, so a long list reads top to bottom like the file.
	slices.SortStableFunc(errs, func(a, b error) int {
		la, lb := 0, 0
		if fe, ok := a.(*FieldError); ok {
			la = fe.Line
		}
		if fe, ok := b.(*FieldError); ok {
			lb = fe.Line
		}
		return la - lb
	})
	return errors.Join(errs...)
}

// Windows returns every distinct window the meter must keep, sorted ascending.
func (c *Config) Windows() []time.Duration {
	var ws []time.Duration
	addW := func(d time.Duration) {
		for _, w := range ws {
			if w == d {
				return
			}
		}
		ws = append(ws, d)
	}
	for _, w := range c.Meter.ReportWindows {
		addW(w.D())
	}
	for _, b := range c.EffectiveBudgets() {
		addW(b.Window.D())
	}
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j] < ws[j-1]; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
	return ws
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func validName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("missing port")
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port")
	}
	return s[:i], port, nil
}

// ParsePrefix accepts a CIDR prefix or a bare address (taken as a single host).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want an address or CIDR prefix, got %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an address or CIDR prefix, got %q", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// Where names the file and line of a dotted path such as
// "records[1].body", for messages about the config that are not errors.
func (c *Config) Where(path string) string {
	if line := c.lineOf(path); line > 0 {
		return fmt.Sprintf("%s:%d", c.file, line)
	}
	return c.file
}

// lineOf finds the line of a dotted path such as "budgets[0].window" in the parsed YAML.
func (c *Config) lineOf(path string) int {
	if c.root == nil || len(c.root.Content) == 0 {
		return 0
	}
	n := c.root.Content[0]
	line := n.Line
	for _, part := range strings.Split(path, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			name = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		next := mapValue(n, name)
		if next == nil {
			if n == c.root.Content[0] {
				return 0 // a top-level key left out has no line of its own
			}
			return line
		}
		n, line = next, next.Line
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n, line = n.Content[idx], n.Content[idx].Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			// Point at the key's line: for a block mapping the value starts on the next line.
			v := n.Content[i+1]
			if v.Kind == yaml.ScalarNode {
				return v
			}
			cp := *v
			cp.Line = n.Content[i].Line
			return &cp
		}
	}
	return nil
}
