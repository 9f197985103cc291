// Package audit checks the operator's own data stores for what an
// unauthenticated stranger could read, and how many personal records that
// is. Each kind of store is probed by an adapter (audit/elastic,
// audit/redis, audit/postgres, audit/mysql) behind the Prober interface;
// this package holds the targets, the PII classification of sampled data
// and the report.
//
// Probes are read-only, bounded (a sample of rows per collection, a cap on
// collections) and time-limited, and no sampled value leaves the process
// unmasked.
package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
)

// Status is the outcome of probing one target.
type Status string

const (
	// Exposed: a stranger got in.
	Exposed Status = "exposed"
	// Closed: the store refused a stranger.
	Closed Status = "closed"
	// Error: the probe could not tell (unreachable, timeout, protocol error).
	Error Status = "error"
)

// Severity ranks findings for the report and exit code.
type Severity int

const (
	SevOK Severity = iota
	SevLow
	SevMedium
	SevHigh
	SevCritical
)

var sevNames = []string{"ok", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if int(s) < len(sevNames) {
		return sevNames[s]
	}
	return "unknown"
}

// MarshalText makes severities read as words in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Target is one store to audit. Only listed targets are touched.
type Target struct {
	Name   string // how the report names it: the URL without any password
	Scheme string // canonical kind: elasticsearch, redis, postgres, mysql
	Host   string // host:port
	TLS    bool   // the URL asked for TLS (rediss://, es+https://)
	// User/Password are operator-supplied credentials. They are never used
	// to decide exposure: only when a stranger is refused, to inventory
	// what the store holds ("closed, but holds N personal records").
	User, Password string
	Database       string // optional database (postgres, mysql) or index prefix
	Sample         int    // rows/documents/values sampled per collection
	MaxCollections int    // collections inventoried per target
	Timeout        time.Duration
}

var schemes = map[string]struct {
	kind string
	port string
	tls  bool
}{
	"es":            {"elasticsearch", "9200", false},
	"elasticsearch": {"elasticsearch", "9200", false},
	"opensearch":    {"elasticsearch", "9200", false},
	"es+https":      {"elasticsearch", "9200", true},
	"redis":         {"redis", "6379", false},
	"rediss":        {"redis", "6379", true},
	"postgres":      {"postgres", "5432", false},
	"postgresql":    {"postgres", "5432", false},
	"mysql":         {"mysql", "3306", false},
	"mariadb":       {"mysql", "3306", false},
}

// Defaults for a target's bounds.
const (
	DefaultSample         = 20
	DefaultMaxCollections = 200
	DefaultTimeout        = 60 * time.Second
)

// ParseTarget reads a target URL such as es://10.0.3.7:9200,
// redis://cache-1:6379, postgres://db-1:5432/shop or mysql://root:pw@db-2.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Target{}, fmt.Errorf("target %q: want scheme://host[:port], e.g. es://10.0.3.7:9200", raw)
	}
	sc, ok := schemes[strings.ToLower(u.Scheme)]
	if !ok {
		return Target{}, fmt.Errorf("target %q: unknown scheme %q (want es, opensearch, redis, rediss, postgres, mysql or mariadb)", raw, u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), sc.port)
	}
	t := Target{Scheme: sc.kind, Host: host, TLS: sc.tls, Database: strings.Trim(u.Path, "/"),
		Sample: DefaultSample, MaxCollections: DefaultMaxCollections, Timeout: DefaultTimeout}
	if u.User != nil {
		t.User = u.User.Username()
		t.Password, _ = u.User.Password()
	}
	shown := *u
	if t.Password != "" {
		shown.User = url.User(t.User)
	}
	t.Name = shown.String()
	return t, nil
}

// Finding is what one target showed.
type Finding struct {
	Target   string   `json:"target"`
	Kind     string   `json:"kind"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
	// Access says how the store was entered, e.g. "no authentication" or
	// "user root with an empty password".
	Access  string `json:"access,omitempty"`
	Version string `json:"version,omitempty"`
	// TLS is "yes", "no" or "unknown".
	TLS string `json:"tls"`
	// Inventoried is true when Collections were listed with the operator's
	// credentials rather than as a stranger.
	WithCredentials bool         `json:"with_credentials,omitempty"`
	Collections     []Collection `json:"collections,omitempty"`
	// Truncated is set when the store held more collections than were
	// inventoried.
	Truncated     bool  `json:"truncated,omitempty"`
	RecordsAtRisk int64 `json:"records_at_risk"`
	// PersonalRecords is the estimate of personal records the inventoried
	// collections hold: at risk when exposed, at stake when closed.
	PersonalRecords int64    `json:"personal_records"`
	PIITypes        []string `json:"pii_types,omitempty"`
	Fix             []string `json:"fix,omitempty"`
	Notes           []string `json:"notes,omitempty"`
	Error           string   `json:"error,omitempty"`
	Elapsed         Duration `json:"elapsed_ms"`
}

// Duration marshals as whole milliseconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprint(time.Duration(d).Milliseconds())), nil
}

// Prober checks one kind of store. It returns a Finding with Status and,
// when it got in, Collections; Run fills in the totals and severity.
type Prober interface {
	Probe(ctx context.Context, t Target, cl *Classifier) Finding
}

// Run probes every target concurrently (at most parallel at a time) and
// returns the findings in the order of targets. A prober that panics or
// overruns its timeout yields an Error finding; it never stops the others.
func Run(ctx context.Context, targets []Target, probers map[string]Prober, cl *Classifier, parallel int, progress func(Finding)) []Finding {
	if parallel < 1 {
		parallel = 4
	}
	out := make([]Finding, len(targets))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f := probeOne(ctx, t, probers[t.Scheme], cl)
			out[i] = f
			if progress != nil {
				mu.Lock()
				progress(f)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

func probeOne(ctx context.Context, t Target, p Prober, cl *Classifier) (f Finding) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			f = Finding{Status: Error, Error: fmt.Sprintf("internal error in the %s probe: %v\n%s", t.Scheme, r, debug.Stack())}
		}
		f.Target, f.Kind = t.Name, t.Scheme
		if f.TLS == "" {
			f.TLS = "unknown"
		}
		f.Elapsed = Duration(time.Since(start))
		finish(&f)
	}()
	if p == nil {
		return Finding{Status: Error, Error: "no prober for " + t.Scheme}
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	f = p.Probe(ctx, t, cl)
	if f.Status == "" {
		f.Status = Error
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		f.Notes = append(f.Notes, fmt.Sprintf("the probe hit its %s timeout; the inventory may be partial", timeout))
	}
	return f
}

// finish computes the totals and the severity of a finding.
func finish(f *Finding) {
	types := map[string]bool{}
	f.RecordsAtRisk = 0
	for i := range f.Collections {
		c := &f.Collections[i]
		c.finish()
		f.PersonalRecords += c.RecordsAtRisk
		for _, fl := range c.Fields {
			for _, ty := range fl.Types {
				types[ty] = true
			}
		}
	}
	f.PIITypes = f.PIITypes[:0]
	for ty := range types {
		f.PIITypes = append(f.PIITypes, ty)
	}
	sort.Strings(f.PIITypes)
	sort.SliceStable(f.Collections, func(i, j int) bool {
		return f.Collections[i].RecordsAtRisk > f.Collections[j].RecordsAtRisk
	})
	if f.Status == Exposed {
		f.RecordsAtRisk = f.PersonalRecords
	}
	switch f.Status {
	case Exposed:
		switch {
		case f.RecordsAtRisk > 0:
			f.Severity = SevCritical
		case len(f.Collections) > 0:
			f.Severity = SevHigh // readable data, no personal data seen in the sample
		default:
			f.Severity = SevMedium // in, but nothing listed (empty store or listing denied)
		}
	case Closed:
		f.Severity = SevOK
		if f.TLS == "no" {
			f.Severity = SevLow // credentials and data cross the network in clear
		}
	default:
		f.Severity = SevMedium // unknown is not clean
	}
}

// ExitCode is the process exit code for a set of findings: 1 when any
// store is exposed, else 2 when any probe failed, else 0 — so audit can
// gate a deploy pipeline.
func ExitCode(fs []Finding) int {
	code := 0
	for _, f := range fs {
		switch f.Status {
		case Exposed:
			return 1
		case Error:
			code = 2
		}
	}
	return code
}

// SetFix says how to close what f found: the access fixes when the store
// is exposed, and the TLS fix when its traffic crosses the network in clear.
func (f *Finding) SetFix(access []string, tlsFix string) {
	f.Fix = nil
	if f.Status == Exposed {
		f.Fix = append(f.Fix, access...)
	}
	if f.TLS == "no" && f.Status != Error {
		f.Fix = append(f.Fix, tlsFix)
	}
}
