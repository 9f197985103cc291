// Package analyze replays access logs through the engine in event time and
// answers the questions after an incident: who took records, since when, how
// many distinct people's data each took, and how many people were touched by
// suspected scrapers in all (the breach scope).
package analyze

import (
	"net/netip"
	"sort"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/records"
)

// Options configure an Analyzer.
type Options struct {
	Resolver *identity.Resolver
	Catalog  *records.Catalog
	Engine   *engine.Engine // in shadow mode: it decides, the log is not changed
	// Reveal keeps each actor's raw address for the report (operator's choice).
	Reveal bool
}

// Analyzer consumes log entries in time order.
type Analyzer struct {
	o        Options
	entities []string
	actors   map[identity.Key]*actor
	lines    int
	bad      int
	badLines []int // line numbers of the first malformed lines
	truncUA  int
	outOfOrd int
	first    time.Time
	last     time.Time
	recs     []records.Found
}

type actor struct {
	key       identity.Key
	addr      string // only with Reveal
	first     time.Time
	last      time.Time
	requests  int
	misses    int
	sketches  []*hyperloglog.Sketch // lifetime distinct records, per entity
	detected  time.Time
	rule      string
	action    string
	atCount   uint64
	beforeCnt []uint64 // records per entity when first detected
}

// New returns an Analyzer. Wire its OnDecision into the engine's options.
func New(o Options) *Analyzer {
	return &Analyzer{o: o, entities: o.Catalog.Entities(), actors: map[identity.Key]*actor{}}
}

// OnDecision records the first decision for each key: when it would have been stopped.
func (a *Analyzer) OnDecision(d engine.Decision) {
	ac := a.actor(d.Key)
	if !ac.detected.IsZero() {
		return
	}
	ac.detected, ac.rule, ac.action, ac.atCount = d.Time, d.Rule, d.Action.String(), d.Count
	ac.beforeCnt = make([]uint64, len(ac.sketches))
	for i, sk := range ac.sketches {
		if sk != nil {
			ac.beforeCnt[i] = sk.Estimate()
		}
	}
}

func (a *Analyzer) actor(k identity.Key) *actor {
	ac := a.actors[k]
	if ac == nil {
		ac = &actor{key: k, sketches: make([]*hyperloglog.Sketch, len(a.entities))}
		a.actors[k] = ac
	}
	return ac
}

// Malformed counts a line that could not be read.
func (a *Analyzer) Malformed(lineNo int) {
	a.lines++
	a.bad++
	if len(a.badLines) < 10 {
		a.badLines = append(a.badLines, lineNo)
	}
}

// Entry replays one parsed line.
func (a *Analyzer) Entry(e *logs.Entry) {
	a.lines++
	if e.Truncated {
		a.truncUA++
	}
	addr, err := netip.ParseAddr(string(e.Addr))
	if err != nil {
		a.bad++
		return
	}
	if !a.last.IsZero() && e.Time.Before(a.last) {
		a.outOfOrd++ // logs of several servers interleave: still replayed, in the order given
	}
	if a.first.IsZero() || e.Time.Before(a.first) {
		a.first = e.Time
	}
	if e.Time.After(a.last) {
		a.last = e.Time
	}
	act := a.o.Resolver.IdentifyLog(addr, e.UserAgent)
	path := e.Target
	for i, c := range path {
		if c == '?' {
			path = path[:i]
			break
		}
	}
	m := a.o.Catalog.Match(string(e.Method), string(path))
	route := ""
	if m.Matched() {
		route = a.o.Catalog.RouteName(m.Route())
	}
	recs := a.recs[:0]
	if e.Status >= 200 && e.Status <= 299 {
		recs = a.o.Catalog.PathRecords(&m, recs)
	}
	miss := m.Matched() && e.Status >= 400 && e.Status <= 499
	a.recs = recs
	// Lifetime totals first, so a decision on this line counts its records.
	for kind, k := range act.Keys {
		if k.Hash == 0 {
			continue
		}
		ac := a.actor(k)
		if ac.first.IsZero() {
			ac.first = e.Time
			if a.o.Reveal && kind == int(identity.IP) {
				ac.addr = addr.String()
			}
		}
		ac.last = e.Time
		ac.requests++
		if miss {
			ac.misses++
		}
		for _, r := range recs {
			if ac.sketches[r.Entity] == nil {
				ac.sketches[r.Entity] = hyperloglog.New14()
			}
			ac.sketches[r.Entity].InsertHash(r.Hash)
		}
	}
	// The log is history: every request was served, so the engine runs in
	// shadow and only says when each actor would have been stopped.
	a.o.Engine.Admit(e.Time, &act, route)
	a.o.Engine.Observe(e.Time, &act, engine.Exchange{Route: route, Records: recs, Miss: miss})
}

// Report is the result; its JSON field names are a stable contract.
type Report struct {
	Lines           int            `json:"lines"`
	Malformed       int            `json:"malformed"`
	MalformedSample []int          `json:"malformed_line_numbers,omitempty"`
	TruncatedUA     int            `json:"truncated_user_agents"`
	OutOfOrder      int            `json:"out_of_order_lines"`
	First           time.Time      `json:"first"`
	Last            time.Time      `json:"last"`
	Actors          int            `json:"actors"`
	Suspects        int            `json:"suspected_scrapers"`
	BreachScope     map[string]int `json:"breach_scope"` // distinct records per entity served to suspects
	// ErrorBound is the relative standard error of the distinct counts (HyperLogLog, precision 14).
	ErrorBound float64       `json:"error_bound"`
	Top        []ActorReport `json:"top_actors"`
}

// ActorReport is one actor key in the report.
type ActorReport struct {
	Key           string         `json:"key"`
	Address       string         `json:"address,omitempty"` // only with --reveal
	First         time.Time      `json:"first_seen"`
	Last          time.Time      `json:"last_seen"`
	Requests      int            `json:"requests"`
	Misses        int            `json:"misses"`
	Records       map[string]int `json:"records"`
	Suspect       bool           `json:"suspect"`
	DetectedAt    *time.Time     `json:"would_have_been_stopped_at,omitempty"`
	Rule          string         `json:"rule,omitempty"`
	Action        string         `json:"action,omitempty"`
	RecordsBefore map[string]int `json:"records_before_detection,omitempty"`
	RecordsAfter  map[string]int `json:"records_after_detection,omitempty"`

	totalForOrdering int
}

// Report builds the report with the top n actors by distinct records.
func (a *Analyzer) Report(top int) Report {
	r := Report{Lines: a.lines, Malformed: a.bad, MalformedSample: a.badLines, TruncatedUA: a.truncUA, OutOfOrder: a.outOfOrd,
		First: a.first, Last: a.last, Actors: len(a.actors), BreachScope: map[string]int{}, ErrorBound: 1.04 / 128}
	scope := make([]*hyperloglog.Sketch, len(a.entities))
	var rows []ActorReport
	for _, ac := range a.actors {
		row := ActorReport{Key: ac.key.String(), Address: ac.addr, First: ac.first, Last: ac.last,
			Requests: ac.requests, Misses: ac.misses, Records: map[string]int{}}
		for i, sk := range ac.sketches {
			if sk == nil {
				continue
			}
			n := int(sk.Estimate())
			row.Records[a.entities[i]] = n
			row.totalForOrdering += n
		}
		if !ac.detected.IsZero() {
			r.Suspects++
			t := ac.detected
			row.Suspect, row.DetectedAt, row.Rule, row.Action = true, &t, ac.rule, ac.action
			row.RecordsBefore, row.RecordsAfter = map[string]int{}, map[string]int{}
			for i, sk := range ac.sketches {
				if sk == nil {
					continue
				}
				before := int(ac.beforeCnt[i])
				row.RecordsBefore[a.entities[i]] = before
				row.RecordsAfter[a.entities[i]] = max(0, row.Records[a.entities[i]]-before)
				if scope[i] == nil {
					scope[i] = hyperloglog.New14()
				}
				_ = scope[i].Merge(sk)
			}
		}
		if row.totalForOrdering > 0 || row.Suspect {
			rows = append(rows, row)
		}
	}
	for i, sk := range scope {
		if sk != nil {
			r.BreachScope[a.entities[i]] = int(sk.Estimate())
		}
	}
	sort.Slice(rows, func(i, j int) bool { // suspects first, then by records taken
		if rows[i].Suspect != rows[j].Suspect {
			return rows[i].Suspect
		}
		if rows[i].totalForOrdering != rows[j].totalForOrdering {
			return rows[i].totalForOrdering > rows[j].totalForOrdering
		}
		return rows[i].Key < rows[j].Key
	})
	if len(rows) > top {
		rows = rows[:top]
	}
	r.Top = rows
	return r
}
