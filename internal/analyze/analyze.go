// Package analyze replays access logs through the engine in event time and
// answers the questions after an incident: who took records, since when, how
// many distinct people's data each took, and how many people were touched by
// suspected scrapers in all (the breach scope).
package analyze

import (
	"bytes"
	"cmp"
	"errors"
	"maps"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/axiomhq/hyperloglog"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/human"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/pipeline"
	"github.com/leakguard/leakguard/internal/records"
)

// Options configure an Analyzer.
type Options struct {
	Resolver *identity.Resolver
	Catalog  *records.Catalog
	Engine   *engine.Engine // in shadow mode: it decides, the log is not changed
	Detector *detect.Detector
	UA       *detect.UAClassifier
	// Reveal keeps the raw addresses, accounts and sessions for the
	// report (operator's choice); without it only keyed hashes are held.
	Reveal bool
	// Sessions: the log format records sessions, so a record line without
	// one is sessionless (otherwise absence says nothing).
	Sessions bool
	// Meter, with Suggest, is read after every line for each key's peak
	// distinct records per window, to suggest budgets.
	Meter   Peaker
	Suggest bool
	// Capture, if set, is the meter the engine was built on (wrapping
	// Meter): the peaks take the bounds it kept instead of asking Meter.
	Capture *Capture
	// Exact keeps every key's distinct records as exact sets (keyed hashes)
	// beside the sketches, for smaller logs where ±0.8% is not good enough.
	// It costs about 50 bytes per key and record; past ExactLimit pairs it
	// is abandoned and the report says so.
	Exact      bool
	ExactLimit int // default 100M
	// Since and Until, if set, replay only lines in [Since, Until): the
	// rest are read and counted, not replayed.
	Since, Until time.Time
	// MaxKeys bounds the keys held in full (default 1,000,000), so a flood
	// of fresh addresses cannot exhaust memory. Past it, keys never
	// suspected and idle for longer than Idle (the longest budget window:
	// the engine has forgotten them too) are folded: their budget peaks and
	// hourly records stay in the totals, their rows go.
	MaxKeys int
	Idle    time.Duration
	// ReportWindows are the windows outliers are judged in (default: every
	// metered window). OutlierFloor (default 1,000) and OutlierFactor
	// (default 10): a key is an outlier past max(floor, factor × its
	// kind's legitimate tail).
	ReportWindows []time.Duration
	OutlierFloor  int
	OutlierFactor float64
	// Learn lets the budgets marked learn: true learn from the log's
	// traffic as the proxy's do from theirs, in the log's time (learner);
	// not in a shard pass (Parts), which holds a part of the keys.
	Learn bool
	// BodyRoutes are the configured routes whose records are read from
	// response bodies: a log holds none, so their lines count nothing, and
	// the report says so rather than showing a clean replay.
	BodyRoutes []string
	// Part and Parts, with Parts from 1 to 64, make the replay one shard
	// pass of a log cut in Parts (partial.go): every line is read and
	// goes through the detector and the engine's calls of every address
	// and sweepers' crew key, but only the keys of memory.Partition
	// modulo Parts equal to Part are otherwise metered, and only they are
	// judged and held. Parts 0: every key.
	Part, Parts int
}

// Analyzer consumes log entries in time order.
type Analyzer struct {
	o        Options
	entities []string
	nw       int               // the meter's windows
	actors   map[uint64]*actor // by actorID
	lines    int
	bad      int
	badLines []string // where and why, for the first malformed lines
	truncUA  int
	outOfOrd int
	outside  int // lines outside [Since, Until)

	// folded keys (see Options.MaxKeys): how many, and what of them the
	// report still needs
	folded      int
	keys        *hyperloglog.Sketch // every key ever held: a folded key that returns is held again
	nextFold    int
	foldedPeaks map[peakGroup]map[uint32]int
	foldedHours map[int32]uint32
	first       time.Time
	last        time.Time
	pairs       int  // exact-set entries held
	inexact     bool // Exact was asked for and abandoned at the limit

	// estimates: the first stage's last estimate of each sketched key's
	// peak counts, and the bound it was made at (see bounds), kept apart
	// per key partition (memory.Partition), addresses apart from other
	// keys, as a sharded replay's goroutines hold them: each forgets
	// what the one-goroutine replay forgets
	estimates [128]map[estimateKey]estimate

	raw          map[identity.Key]string // with Reveal only: raw addresses, accounts and sessions
	reportWins   []int                   // indices of the report windows in the meter's
	outliersDone bool
	tails        []OutlierTail
	allWinsIdx   []int

	// tpart of tparts: the analyzer's stage of a sharded replay (tally.go)
	// runs on tparts goroutines, each an Analyzer holding the keys of
	// memory.Partition modulo tparts equal to tpart; pairs is the exact
	// sets' entries of all of them
	tpart, tparts int
	pairsAll      *atomic.Int64

	// learn: the budgets marked learn: true learn in the log's time (nil:
	// they keep their written limits)
	learn *learner
	// stage is the first stage's buffer for the chunk it is replaying,
	// while a pipelined replay runs (decisions go there).
	stage  *stageBuf
	serial stageBuf // apply's, for a replay on one goroutine
}

// stageBuf carries what the first stage of a pipelined replay learns of a
// chunk to the second: the engine's decisions and the meter's bounds, in
// line order.
type stageBuf struct {
	decs   []decision
	bounds []uint32
	pos    int // the second stage's place in bounds
}

// Peaker is what budget suggestions read of the meter.
type Peaker interface {
	Bound(now int64, k identity.Key, ent, wi int) uint64
	Windows() []time.Duration
}

type actor struct {
	// What every line reads or writes of each of its keys comes first,
	// in the order tally touches it: three or four adjacent cache lines
	// of the object, where it was five or six across it. Each key's
	// first touch on a line is a cache miss (hundreds of thousands of
	// keys); the lines after it are the prefetcher's.
	key      identity.Key
	first    time.Time
	last     time.Time
	requests int
	misses   int
	// lifetime distinct records, per entity up to the last seen (nil
	// until the first record): most keys take one entity of the
	// catalog's several, PII detectors included
	sketches []distinct
	// the most distinct records seen in each window, per entity up to the
	// last it took (peak[ent*nw+wi]; nil until its first record): one
	// allocation and one pointer per key, where a slice per entity was
	// two of each on the peaks' path of every record line
	peak      []uint32
	lastLine  uint64 // a hash of the keys of the last line linked (lineHash)
	exempt    bool   // seen allowlisted: judged by its own budgets, not against people
	outlier   bool
	hours     []hourCount           // records served per hour, addresses and crews only
	links     keySet                // the other keys seen on its lines (not fingerprints)
	people    *keySet               // addresses and /24s: the people seen behind them
	exact     []map[uint64]struct{} // the same as sketches, exactly, with Options.Exact
	addr      string                // only with Reveal: the address, or a crew's first
	crossings []crossing
	// what the report says of a suspect; nil for nearly every key, whose
	// row it would have made 136 bytes heavier
	*finding
}

// finding is a key's first decision, the engine's or the outlier pass's.
type finding struct {
	detected  time.Time
	rule      string
	action    string
	signals   []string // the detector's signals when it was stopped
	atCount   uint64
	beforeCnt []uint64 // records per entity when first detected
	// the same from the sketches, while exact counts are kept: if they
	// are abandoned later, every count of the report is an estimate
	beforeEst []uint64
}

// suspect reports whether a key was found (stopped, or an outlier).
func (ac *actor) suspect() bool { return ac.finding != nil }

// New returns an Analyzer. Wire its OnDecision into the engine's options.
func New(o Options) *Analyzer {
	if o.ExactLimit <= 0 {
		o.ExactLimit = 100_000_000
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1_000_000
	}
	if o.OutlierFloor <= 0 {
		o.OutlierFloor = defaultOutlierFloor
	}
	if o.OutlierFactor <= 0 {
		o.OutlierFactor = defaultOutlierFactor
	}
	a := &Analyzer{o: o, entities: o.Catalog.Entities(), actors: map[uint64]*actor{}, nextFold: o.MaxKeys,
		foldedPeaks: map[peakGroup]map[uint32]int{}, foldedHours: map[int32]uint32{}, keys: hyperloglog.New14()}
	if o.Reveal {
		a.raw = map[identity.Key]string{}
	}
	if o.Meter != nil {
		a.nw = len(o.Meter.Windows())
		for wi, w := range o.Meter.Windows() {
			if len(o.ReportWindows) == 0 || slices.Contains(o.ReportWindows, w) {
				a.reportWins = append(a.reportWins, wi)
			}
		}
	}
	return a
}

// OnDecision records the first decision for each key: when it would have
// been stopped. During a pipelined replay the engine's goroutine calls it:
// the decision waits for the second stage, which applies it after the
// totals of its line.
func (a *Analyzer) OnDecision(d engine.Decision) {
	if a.stage != nil {
		a.stage.decs = append(a.stage.decs, decision{key: d.Key, t: d.Time, rule: d.Rule, action: d.Action.String(), count: d.Count, signals: d.Signals})
		return
	}
	a.decide(decision{key: d.Key, t: d.Time, rule: d.Rule, action: d.Action.String(), count: d.Count, signals: d.Signals})
}

// decision is what the report keeps of an engine's decision.
type decision struct {
	key     identity.Key
	t       time.Time
	rule    string
	action  string
	count   uint64
	signals detect.Signals
}

func (a *Analyzer) decide(d decision) {
	ac := a.actor(d.key)
	if ac.suspect() {
		return
	}
	f := &finding{detected: d.t, rule: d.rule, action: d.action, atCount: d.count, signals: d.signals.Names()}
	f.beforeCnt, f.beforeEst = a.counts(ac)
	ac.finding = f
}

// counts is an actor's distinct records per entity, and the sketches'
// estimates of them while exact counts are kept (nil otherwise): exact
// counts given up later leave estimates everywhere in the report, in a
// single replay as in a merge of shards (whose total of key-record pairs
// is known only at the merge).
func (a *Analyzer) counts(ac *actor) (cnt, est []uint64) {
	cnt = make([]uint64, len(a.entities))
	for i := range cnt {
		cnt[i] = uint64(a.count(ac, i))
	}
	if a.exact() && ac.exact != nil {
		est = make([]uint64, len(a.entities))
		for i := range est {
			if i < len(ac.sketches) {
				est[i] = uint64(ac.sketches[i].count())
			}
		}
	}
	return cnt, est
}

// before is ac's records of entity i when it was first detected.
func (a *Analyzer) before(ac *actor, i int) uint64 {
	if a.inexact && ac.beforeEst != nil {
		return ac.beforeEst[i]
	}
	return ac.beforeCnt[i]
}

// own reports whether this replay holds key k: always, unless it is one
// shard pass of several (Options.Parts) or one goroutine of a sharded
// analyzer's stage.
func (a *Analyzer) own(k identity.Key) bool {
	if a.o.Parts == 0 && a.tparts == 0 {
		return true
	}
	p := memory.Partition(k)
	return (a.o.Parts == 0 || p%a.o.Parts == a.o.Part) && (a.tparts == 0 || p%a.tparts == a.tpart)
}

// exact reports whether counts are exact sets.
func (a *Analyzer) exact() bool { return a.o.Exact && !a.inexact }

// count is an actor's distinct records of entity i: exact when it can be.
func (a *Analyzer) count(ac *actor, i int) int {
	if a.exact() && ac.exact != nil && ac.exact[i] != nil {
		return len(ac.exact[i])
	}
	if i >= len(ac.sketches) {
		return 0
	}
	return ac.sketches[i].count()
}

// actorID folds a key into one word: keys' hashes are keyed 64-bit hashes
// in separate domains, and a word hashes faster than the struct (the
// lookup runs for every key of every line).
func actorID(k identity.Key) uint64 { return k.Hash*0x9e3779b97f4a7c15 + uint64(k.Kind) }

func (a *Analyzer) actor(k identity.Key) *actor {
	ac := a.actors[actorID(k)]
	if ac == nil {
		ac = &actor{key: k}
		a.keys.InsertHash(actorID(k))
		a.actors[actorID(k)] = ac
	}
	return ac
}

// malformed counts a line that could not be read.
func (a *Analyzer) malformed(where string, err error) {
	a.lines++
	a.bad++
	if len(a.badLines) < 10 {
		a.badLines = append(a.badLines, where+": "+err.Error())
	}
}

// maxMembers bounds the addresses counted per crew (a crew of a million
// rotating addresses reports "10000+").
const maxMembers = 10000

// event is one log line made ready for replay: everything that depends on
// the line alone. Parse workers compute events in parallel; the replay
// applies them in order.
type event struct {
	line  int   // line number in its input
	skip  bool  // a blank line
	err   error // the line could not be read
	trunc bool
	t     time.Time
	addr  netip.Addr
	act   identity.Actor
	route string
	recs  []records.Found
	miss  bool
	tr    detect.Traits
	sig   detect.Signals // the detector's, set by the replay's first stage
	decs  [2]int         // the engine's decisions on this line, in its chunk's stage buffer
	// a sharded replay's: the detector's signals (sig adds the engine's
	// risk assessment's), the assessment, whether the line is replayed,
	// and where its bounds for the peaks start in its chunk's
	pre  detect.Signals
	risk engine.Scored
	live bool
	boff int32
	// with Reveal only: the raw account and session
	account, session string
}

var (
	errBadAddr   = errors.New("malformed client address")
	errTimeRange = errors.New("time out of range (before 1970 or after 2199)")
	minTime      = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime      = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// prepare fills ev from a parsed line, appending its records to recs. It
// reads only immutable parts of the analyzer (resolver, catalog, UA
// classifier), so workers call it concurrently.
//
// uas, if not nil, is the calling worker's own cache of User-Agent classes
// by fingerprint key: logs repeat a few thousand agents, and the shared
// classifier's cache costs a hash and a lock a line.
func (a *Analyzer) prepare(e *logs.Entry, ev *event, recs []records.Found, uas map[uint64]detect.UAClass) []records.Found {
	ev.trunc = e.Truncated
	addr, ok := a.o.Resolver.LineAddr(view(e.Addr), view(e.ForwardedFor))
	if !ok {
		ev.err = errBadAddr
		return recs
	}
	// The engine counts in unix nanoseconds: a year 1 or 9999 in a corrupt
	// line would overflow them (and once crashed the meter).
	if e.Time.Before(minTime) || !e.Time.Before(maxTime) {
		ev.err = errTimeRange
		return recs
	}
	ev.t, ev.addr = e.Time, addr
	ev.act = a.o.Resolver.IdentifyLine(addr, e.UserAgent, e.TLS)
	if len(e.Account) > 0 {
		ev.act.Keys[identity.Account] = a.o.Resolver.AccountKey(view(e.Account))
	}
	if len(e.Session) > 0 {
		ev.act.Keys[identity.Session] = a.o.Resolver.SessionKey(view(e.Session))
	}
	ev.account, ev.session = "", ""
	if a.o.Reveal {
		ev.account, ev.session = string(e.Account), string(e.Session)
	}
	path := logs.OriginForm(e.Target)
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	method := view(e.Method)
	m := a.o.Catalog.Match(method, view(path))
	if m.Matched() {
		ev.route = a.o.Catalog.RouteName(m.Route())
	}
	n := len(recs)
	if e.Status >= 200 && e.Status <= 299 {
		recs = a.o.Catalog.PathRecords(&m, recs)
	}
	ev.recs = recs[n:len(recs):len(recs)]
	ev.miss = m.Matched() && e.Status >= 400 && e.Status <= 499
	if a.o.Detector != nil {
		fp := ev.act.Keys[identity.Fingerprint].Hash
		ua, ok := uas[fp]
		if !e.Combined {
			// The format logs no User-Agent (common, or a log_format or
			// JSON line without one): nothing is known of the client's,
			// where an empty one is automation's.
			ua = detect.UAOther
		} else if !ok || fp == 0 {
			ua = a.o.UA.Classify(view(e.UserAgent))
			if uas != nil && fp != 0 {
				if len(uas) >= 1<<16 {
					clear(uas)
				}
				uas[fp] = ua
			}
		}
		// App as the proxy and follow read it: until 2026-12-06 a replay
		// took the operator's app's calls for a website's that loads no
		// pages (sessionless, no_assets, api_heavy).
		ev.tr = detect.Traits{Kind: detect.KindOfLogged(ev.route != "", method, view(path), e.Status), UA: ua,
			Addr: addr, NoSessions: !a.o.Sessions, At: e.Time.UnixNano(), IDLow: m.IDLow(), Route: m.Route() + 1, PathID: detect.PathID(view(path)),
			App: a.o.Detector != nil && a.o.Detector.App(view(e.UserAgent))}
	}
	return recs
}

// apply replays one prepared line through the detector, the engine and the
// per-key totals, in event time: the two stages of the pipelined replay
// (read.go) one after the other.
func (a *Analyzer) apply(ev *event) {
	if a.outsideWindow(ev) {
		a.lines++
		a.outside++
		return
	}
	st := &a.serial
	st.decs, st.bounds, st.pos = st.decs[:0], st.bounds[:0], 0
	ev.decs[0] = 0
	a.stage = st
	a.replay(ev, st)
	a.stage = nil
	ev.decs[1] = len(st.decs)
	st.pos = a.tally(ev, st.decs[ev.decs[0]:ev.decs[1]], st.bounds, st.pos)
}

// outsideWindow reports whether ev lies outside [Since, Until).
func (a *Analyzer) outsideWindow(ev *event) bool {
	return !a.o.Since.IsZero() && ev.t.Before(a.o.Since) || !a.o.Until.IsZero() && !ev.t.Before(a.o.Until)
}

// replay is the first stage of a line inside the time window: the
// detector, the engine and the meter, which hold every state that links
// keys (crews, sanctions, the people behind an address). It touches no
// per-key total of the analyzer: the decisions the engine takes go to
// a.stage (OnDecision) and the meter's bounds for peaks to st, for tally
// to apply in the same order as a line's own code did before the split.
func (a *Analyzer) replay(ev *event, st *stageBuf) {
	act, recs := &ev.act, ev.recs
	if a.o.Capture != nil {
		a.o.Capture.begin(ev.t.UnixNano())
	}
	// The detector runs before the totals: it sets the crew key. The log
	// is history: every request was served, so the engine runs in shadow
	// and only says when each actor would have been stopped.
	pipe := pipeline.Pipeline{Detector: a.o.Detector, Engine: a.o.Engine}
	v := pipe.Admit(ev.t, act, &ev.tr, ev.route, false)
	ev.sig = v.Signals
	pipe.Observe(ev.t, act, engine.Exchange{Route: ev.route, Records: recs, Miss: ev.miss, Signals: v.Signals})
	st.bounds = a.bounds(ev, st.bounds)
}

// tally is the second stage of a line inside the time window: the
// analyzer's own per-key totals (lifetime counts, links, timelines), then
// the decisions the engine took on the line, then the peaks, as the
// replay interleaved them before it was split in two. decs are the line's
// decisions; the meter's bounds are read from bnd at pos, and it returns
// the position after them.
func (a *Analyzer) tally(ev *event, decs []decision, bnd []uint32, pos int) int {
	a.lines++
	if len(a.actors) >= a.nextFold {
		a.fold(ev.t)
	}
	if ev.trunc {
		a.truncUA++
	}
	if !a.last.IsZero() && ev.t.Before(a.last) {
		a.outOfOrd++ // logs of several servers interleave: still replayed, in the order given
	}
	if a.first.IsZero() || ev.t.Before(a.first) {
		a.first = ev.t
	}
	if ev.t.After(a.last) {
		a.last = ev.t
	}
	act, recs, sig := &ev.act, ev.recs, ev.sig
	var acs [identity.NumKinds]*actor // each key's totals, looked up once a line
	// Lifetime totals first, so a decision on this line counts its records.
	for kind, k := range act.Keys {
		if k.Hash == 0 || !a.own(k) {
			continue
		}
		ac := a.actor(k)
		acs[kind] = ac
		if ac.first.IsZero() {
			ac.first = ev.t
			if a.o.Reveal && kind == int(identity.IP) {
				ac.addr = identity.HostString(ev.addr)
			}
		}
		if kind == int(identity.Crew) && a.o.Reveal && ac.addr == "" {
			ac.addr = ev.addr.String()
		}
		ac.last = ev.t
		ac.exempt = ac.exempt || sig.Exempt()
		ac.requests++
		if ev.miss {
			ac.misses++
		}
		for _, r := range recs {
			if r.Entity >= len(ac.sketches) {
				ac.sketches = append(ac.sketches, make([]distinct, r.Entity+1-len(ac.sketches))...)
			}
			ac.sketches[r.Entity].add(r.Hash)
		}
		if a.exact() && len(recs) > 0 {
			a.addExact(ac, recs)
		}
		// Records per hour, for the report's timelines: addresses (each
		// line counted once) and crews.
		if len(recs) > 0 && (kind == int(identity.IP) || kind == int(identity.Crew)) {
			ac.hours = addHour(ac.hours, int32(ev.t.Unix()/3600), uint32(len(recs)))
		}
	}
	a.link(act, &acs)
	a.remember(ev)
	for _, d := range decs {
		a.decide(d)
	}
	return a.peaks(ev.t, act, &acs, recs, bnd, pos)
}

func (a *Analyzer) addExact(ac *actor, recs []records.Found) {
	if ac.exact == nil {
		ac.exact = make([]map[uint64]struct{}, len(a.entities))
	}
	for _, r := range recs {
		m := ac.exact[r.Entity]
		if m == nil {
			m = map[uint64]struct{}{}
			ac.exact[r.Entity] = m
		}
		n := len(m)
		m[r.Hash] = struct{}{}
		a.pairs += len(m) - n
		if a.pairsAll != nil {
			a.pairsAll.Add(int64(len(m) - n))
		}
	}
	// A sharded stage gives up when all its goroutines' keys hold more
	// than the limit, as the one-goroutine replay does; whenever each
	// notices, the report is the same: once given up, every count in it
	// is the sketches' (counts, tally.go's join).
	if a.pairs > a.o.ExactLimit || a.pairsAll != nil && a.pairsAll.Load() > int64(a.o.ExactLimit) {
		a.inexact = true // the sketches carry on; free the sets
		for _, x := range a.actors {
			x.exact = nil
		}
	}
}

// fold removes keys never suspected and idle for longer than Idle until
// 90% of MaxKeys remain, keeping their peaks and hourly records in the
// totals. With too few such keys it tries again after 10% more growth.
func (a *Analyzer) fold(now time.Time) {
	target := a.o.MaxKeys * 9 / 10
	cutoff := now.Add(-a.o.Idle)
	// The longest idle go first, then by key: taken in the map's order,
	// which keys were folded changed from run to run, and with them the
	// report (a folded key seen again starts afresh). The price is a sort
	// of at most MaxKeys idle keys once per tenth of MaxKeys new keys,
	// next to the walk of every key that was already done.
	type idleKey struct {
		last int64
		id   uint64
		ac   *actor
	}
	var idle []idleKey
	for id, ac := range a.actors {
		if ac.suspect() || ac.last.After(cutoff) || ac.crossings != nil {
			continue // a key past the outlier floor may yet be found an outlier
		}
		idle = append(idle, idleKey{ac.last.UnixNano(), id, ac})
	}
	slices.SortFunc(idle, func(x, y idleKey) int { return cmp.Or(cmp.Compare(x.last, y.last), cmp.Compare(x.id, y.id)) })
	for _, k := range idle {
		if len(a.actors) <= target {
			break
		}
		id, ac := k.id, k.ac
		for i, v := range ac.peak {
			if v > 0 && ac.key.Kind != identity.Crew {
				g := peakGroup{ac.key.Kind, i / a.nw, i % a.nw}
				if a.foldedPeaks[g] == nil {
					a.foldedPeaks[g] = map[uint32]int{}
				}
				a.foldedPeaks[g][v]++
			}
		}
		if ac.key.Kind == identity.IP {
			for _, hc := range ac.hours {
				a.foldedHours[hc.h] += hc.n
			}
		}
		delete(a.actors, id)
		a.folded++
	}
	a.nextFold = max(len(a.actors), target) + a.o.MaxKeys/10
}

type peakGroup struct {
	kind    identity.Kind
	ent, wi int
}

// peakWins are the windows peaks follow: outliers need the report
// windows' peaks; suggestions every window's.
func (a *Analyzer) peakWins() []int {
	if a.o.Suggest {
		return a.allWins(len(a.o.Meter.Windows()))
	}
	return a.reportWins
}

// entBits is the set of entities among recs.
func entBits(recs []records.Found) uint64 {
	var ents uint64
	for _, r := range recs {
		if r.Entity < 64 {
			ents |= 1 << r.Entity
		}
	}
	return ents
}

// bounds appends the meter's bounds that peaks reads for ev, in the order
// it reads them: the first stage of a pipelined replay asks the meter, the
// second keeps the peaks.
func (a *Analyzer) bounds(ev *event, out []uint32) []uint32 {
	if a.o.Meter == nil || len(ev.recs) == 0 {
		return out
	}
	wins, ents, at := a.peakWins(), entBits(ev.recs), ev.t.UnixNano()
	exact := math.MaxInt
	if m, ok := a.o.Meter.(interface{ ExactUpTo() int }); ok {
		exact = m.ExactUpTo()
	}
	for _, k := range ev.act.Keys {
		if k.Hash == 0 {
			continue
		}
		for ent := range a.entities {
			if ents&(1<<ent) == 0 {
				continue
			}
			for _, wi := range wins {
				var b uint64
				if a.o.Capture != nil {
					b = a.o.Capture.bound(at, k, ent, wi)
				} else {
					b = a.o.Meter.Bound(at, k, ent, wi)
				}
				if b > uint64(exact) && a.o.Suggest {
					// Only for suggestions: a quarter of the replay's
					// time on an API log, and the outliers' tails are
					// conservative as bounds (a high tail flags less).
					b = a.estimate(at, k, ent, wi, b)
				}
				out = append(out, uint32(min(b, 1<<31)))
			}
		}
	}
	return out
}

type estimateKey struct {
	k       identity.Key
	ent, wi uint16
}

type estimate struct{ bound, count uint64 }

// maxEstimates bounds the estimates kept per partition; past it the
// partition's are forgotten and made again.
const maxEstimates = 1 << 13

// estimatePart is where k's estimates are kept.
func estimatePart(k identity.Key) int {
	if k.Kind == identity.IP {
		return 64 + memory.Partition(k)
	}
	return memory.Partition(k)
}

// estimate is the peak count of sketched key k, whose bound is b. A
// sketch's bound adds up every insert since its last estimate, repeats
// included: a carrier NAT's popular profiles, seen again and again, made
// its peaks (and the budgets suggested from them) up to 5.8 times its
// distinct count. An estimate costs a pass over the sketch, so one is made
// again only once the bound has grown by a sixteenth of the last, and the
// growth since is added to it meanwhile: a peak at most ~6% high. (The
// engine's decisions read estimates too, so they do not change; the same
// code runs in every replay, so neither does the report.) Below the
// meter's exact_up_to the bound is used as it is: exact for a key still in
// its exact list, and for a sketched one at most exact_up_to high.
func (a *Analyzer) estimate(at int64, k identity.Key, ent, wi int, b uint64) uint64 {
	ek := estimateKey{k, uint16(ent), uint16(wi)}
	es := &a.estimates[estimatePart(k)]
	if e, ok := (*es)[ek]; ok && b >= e.bound && b-e.bound <= e.count/16 {
		return e.count + (b - e.bound)
	}
	var n uint64
	if a.o.Capture != nil {
		n = a.o.Capture.Count(at, k, ent, wi)
	} else if c, ok := a.o.Meter.(interface {
		Count(int64, identity.Key, int, int) uint64
	}); ok {
		n = c.Count(at, k, ent, wi)
	} else {
		return b
	}
	if *es == nil || len(*es) >= maxEstimates {
		*es = map[estimateKey]estimate{}
	}
	(*es)[ek] = estimate{bound: b, count: n}
	return n
}

// peaks notes, for every key of the line's actor, its distinct records in
// each window after this line, keeping the most. The meter's bounds are
// read from bnd, from pos on, when bnd is not nil (a pipelined replay); it
// returns the position after them.
func (a *Analyzer) peaks(t time.Time, act *identity.Actor, acs *[identity.NumKinds]*actor, recs []records.Found, bnd []uint32, pos int) int {
	if a.o.Meter == nil || len(recs) == 0 {
		return pos
	}
	nw := a.nw
	wins, ents := a.peakWins(), entBits(recs)
	per := 0
	if bnd != nil {
		per = len(a.peakWins()) * bits.OnesCount64(ents&(1<<len(a.entities)-1))
	}
	for kind, k := range act.Keys {
		if k.Hash == 0 {
			continue
		}
		if !a.own(k) { // another shard pass's: its bounds are skipped
			pos += per
			continue
		}
		ac := acs[kind]
		if ac == nil || ac.key != k { // folded meanwhile (never: fold runs first), or a test's own call
			ac = a.actor(k)
		}
		// Entities up to the last the key took, not every entity.
		if need := min(bits.Len64(ents), len(a.entities)) * nw; len(ac.peak) < need {
			ac.peak = append(ac.peak, make([]uint32, need-len(ac.peak))...)
		}
		for ent := range a.entities {
			if ents&(1<<ent) == 0 {
				continue
			}
			pk := ac.peak[ent*nw : ent*nw+nw]
			for _, wi := range wins {
				// Bound, not Count: a count estimates a sketch, too slow
				// to ask on every line. Bound adds the window's buckets
				// up, so a record seen in several counts more than once.
				var b uint32
				if bnd != nil {
					b, pos = bnd[pos], pos+1
				} else {
					b = uint32(min(a.o.Meter.Bound(t.UnixNano(), k, ent, wi), 1<<31))
				}
				if b > pk[wi] {
					pk[wi] = b
					if k.Kind != identity.Fingerprint && slices.Contains(a.reportWins, wi) {
						a.cross(ac, t, ent, wi, b)
					}
				}
			}
		}
	}
	return pos
}

func (a *Analyzer) allWins(nw int) []int {
	if len(a.allWinsIdx) != nw {
		a.allWinsIdx = make([]int, nw)
		for i := range a.allWinsIdx {
			a.allWinsIdx[i] = i
		}
	}
	return a.allWinsIdx
}

// Suggestion is a budget suggested from the legitimate actors' peaks (a key
// folded and seen again counts once per active period: no budget window
// spans its idle gap, so its peak is the larger of the two): the
// 99.99th percentile of the peak distinct records per window among actors
// never suspected, with 50% headroom, rounded up.
type Suggestion struct {
	Entity    string `json:"entity"`
	Per       string `json:"per"`
	Window    string `json:"window"`
	Actors    int    `json:"actors"`
	P9999     uint32 `json:"p99_99"`
	Max       uint32 `json:"max"`
	Suggested uint64 `json:"suggested_limit"`
}

// Suggest computes the suggestions.
func (a *Analyzer) Suggestions() []Suggestion {
	if a.o.Meter == nil {
		return nil
	}
	a.flagOutliers()
	tied := a.tied()
	windows := a.o.Meter.Windows()
	// per group, how many keys peaked at each value: folded keys are
	// already counted so, and the held ones are added
	peaks := map[peakGroup]map[uint32]int{}
	for g, h := range a.foldedPeaks {
		peaks[g] = maps.Clone(h)
	}
	for _, ac := range a.actors {
		if tied[ac.key] || ac.exempt || ac.peak == nil || ac.key.Kind == identity.Crew {
			continue // suspects and their other keys do not set what is normal, nor partners; crews exist only for scrapers
		}
		for i, v := range ac.peak {
			if v > 0 {
				g := peakGroup{ac.key.Kind, i / a.nw, i % a.nw}
				if peaks[g] == nil {
					peaks[g] = map[uint32]int{}
				}
				peaks[g][v]++
			}
		}
	}
	var out []Suggestion
	for g, hist := range peaks {
		vals := slices.Sorted(maps.Keys(hist))
		n := 0
		for _, c := range hist {
			n += c
		}
		// the value at rank floor(n × 0.9999), as on the sorted list of peaks
		rank, p := min(n-1, int(float64(n)*0.9999)), vals[len(vals)-1]
		for _, v := range vals {
			if rank -= hist[v]; rank < 0 {
				p = v
				break
			}
		}
		out = append(out, Suggestion{Entity: a.entities[g.ent], Per: g.kind.String(), Window: human.Window(windows[g.wi]),
			Actors: n, P9999: p, Max: vals[len(vals)-1], Suggested: roundUp(uint64(float64(p)*1.5) + 1)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Entity != out[j].Entity {
			return out[i].Entity < out[j].Entity
		}
		if out[i].Per != out[j].Per {
			return out[i].Per < out[j].Per
		}
		return out[i].Window < out[j].Window
	})
	return out
}

// roundUp rounds to two significant digits, up: 1234 → 1300.
func roundUp(n uint64) uint64 {
	step := uint64(1)
	for n/step >= 100 {
		step *= 10
	}
	return (n + step - 1) / step * step
}

// HourPoint is the records served in one hour.
type HourPoint struct {
	Hour    time.Time `json:"hour"`
	Records uint32    `json:"records"`
}

// Timeline is records per hour served to the addresses later suspected,
// and to all others; plus each of the top suspects' own series.
type Timeline struct {
	Suspects []HourPoint            `json:"suspects"`
	Others   []HourPoint            `json:"others"`
	Actors   map[string][]HourPoint `json:"actors"`
}

// Timelines computes the report's timelines (addresses and crews).
func (a *Analyzer) Timelines(top []ActorReport) Timeline {
	sus, oth := map[int32]uint32{}, maps.Clone(a.foldedHours)
	for _, ac := range a.actors {
		if ac.key.Kind != identity.IP {
			continue
		}
		m := oth
		if ac.suspect() {
			m = sus
		}
		for _, hc := range ac.hours {
			m[hc.h] += hc.n
		}
	}
	series := func(m map[int32]uint32) []HourPoint {
		hs := make([]int32, 0, len(m))
		for h := range m {
			hs = append(hs, h)
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
		out := make([]HourPoint, 0, len(hs))
		for _, h := range hs {
			out = append(out, HourPoint{time.Unix(int64(h)*3600, 0).UTC(), m[h]})
		}
		return out
	}
	// The two totals share one axis, hours without records drawn as zero
	// (a line across a gap would suggest traffic that was not there).
	var lo, hi int32 = 1<<31 - 1, -1 << 31
	for _, m := range []map[int32]uint32{sus, oth} {
		for h := range m {
			lo, hi = min(lo, h), max(hi, h)
		}
	}
	if hi >= lo && hi-lo < 24*366*5 {
		for h := lo; h <= hi; h++ {
			sus[h] += 0
			oth[h] += 0
		}
	}
	t := Timeline{Suspects: series(sus), Others: series(oth), Actors: map[string][]HourPoint{}}
	for _, r := range top {
		if !r.Suspect || len(t.Actors) >= 8 {
			continue
		}
		if k, err := identity.ParseKey(r.Key); err == nil {
			if ac := a.actors[actorID(k)]; ac != nil && ac.hours != nil {
				m := map[int32]uint32{}
				for _, hc := range ac.hours {
					m[hc.h] += hc.n
				}
				t.Actors[r.Key] = series(m)
			}
		}
	}
	return t
}

// view is b as a string without a copy, for calls that only read it for the
// length of the line (hashing, matching, classifying): the line's buffer is
// reused for the next one, so nothing may keep the result.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Report is the result; its JSON field names are a stable contract.
type Report struct {
	Lines           int      `json:"lines"`
	Malformed       int      `json:"malformed"`
	MalformedSample []string `json:"malformed_sample,omitempty"` // file:line: why, for the first few
	TruncatedUA     int      `json:"truncated_user_agents"`
	OutOfOrder      int      `json:"out_of_order_lines"`
	OutsideWindow   int      `json:"lines_outside_window,omitempty"` // with --since/--until: read, not replayed
	// FoldedKeys were never suspected and went idle while more than
	// --max-keys were held: counted in Actors (then an estimate), budget
	// suggestions and the timeline, not listed. A folded key seen again is
	// held afresh.
	FoldedKeys  int            `json:"folded_keys,omitempty"`
	First       time.Time      `json:"first"`
	Last        time.Time      `json:"last"`
	Actors      int            `json:"actors"`
	Suspects    int            `json:"suspected_scrapers"`
	BreachScope map[string]int `json:"breach_scope"` // distinct records per entity served to suspects
	// ErrorBound is the relative standard error of the distinct counts
	// (HyperLogLog, precision 14); 0 when they are exact.
	ErrorBound float64 `json:"error_bound"`
	Exact      bool    `json:"exact"`
	// ExactAbandoned: exact counts were asked for, but the log held more
	// key-record pairs than the limit, so counts are estimates.
	ExactAbandoned bool          `json:"exact_abandoned,omitempty"`
	Top            []ActorReport `json:"top_actors"`
	// Suggested budgets (with --suggest-budgets).
	Suggestions []Suggestion `json:"suggested_budgets,omitempty"`
	// Timeline of records per hour (with --html).
	Timeline *Timeline `json:"timeline,omitempty"`
	// OutlierTails: per key kind, entity and report window, the
	// legitimate keys' tail and the take above which a key is an outlier.
	OutlierTails []OutlierTail `json:"outlier_tails,omitempty"`
	// Learnt: the budgets whose limits the replay learnt above their
	// written ones (Options.Learn), as the last calibration left them.
	Learnt []engine.Calibration `json:"learnt_limits,omitempty"`
	// RoutesNotCounted are the routes that read their records from
	// response bodies, which an access log does not hold.
	RoutesNotCounted []string `json:"routes_not_counted,omitempty"`
}

// ActorReport is one actor key in the report.
type ActorReport struct {
	Key           string         `json:"key"`
	Address       string         `json:"address,omitempty"`   // only with --reveal; a crew's first address
	Addresses     int            `json:"addresses,omitempty"` // a crew's distinct addresses (at most 10000 counted)
	Revealed      *Revealed      `json:"revealed,omitempty"`  // suspects only, with --reveal
	First         time.Time      `json:"first_seen"`
	Last          time.Time      `json:"last_seen"`
	Requests      int            `json:"requests"`
	Misses        int            `json:"misses"`
	Records       map[string]int `json:"records"`
	Suspect       bool           `json:"suspect"`
	DetectedAt    *time.Time     `json:"would_have_been_stopped_at,omitempty"`
	Rule          string         `json:"rule,omitempty"`
	Action        string         `json:"action,omitempty"`
	Signals       []string       `json:"signals,omitempty"` // the detector's signals on the line that would have stopped it
	RecordsBefore map[string]int `json:"records_before_detection,omitempty"`
	RecordsAfter  map[string]int `json:"records_after_detection,omitempty"`

	totalForOrdering int
}

// total is an actor's distinct records over all entities.
func (a *Analyzer) total(ac *actor) int {
	n := 0
	for i := range ac.sketches {
		n += a.count(ac, i)
	}
	return n
}

type ranked struct {
	ac    *actor
	total int
}

// keepTop keeps the n largest by total (ties by key, as the report sorts).
func keepTop(best []ranked, c ranked, n int) []ranked {
	if len(best) < n {
		return append(best, c)
	}
	lo := 0
	for i := range best {
		if less(best[i], best[lo]) {
			lo = i
		}
	}
	if less(best[lo], c) {
		best[lo] = c
	}
	return best
}

// less orders as the report does, reversed: fewer records, then the
// later key as Key.String() sorts ("kind:hex", without formatting it).
func less(x, y ranked) bool {
	if x.total != y.total {
		return x.total < y.total
	}
	if xk, yk := x.ac.key.Kind.String(), y.ac.key.Kind.String(); xk != yk {
		return xk > yk
	}
	return x.ac.key.Hash > y.ac.key.Hash
}

// Report builds the report with the top n actors by distinct records.
func (a *Analyzer) Report(top int) Report {
	a.flagOutliers()
	r := Report{OutlierTails: a.tails, Learnt: a.learn.moved(), Lines: a.lines, Malformed: a.bad, MalformedSample: a.badLines, TruncatedUA: a.truncUA, OutOfOrder: a.outOfOrd, OutsideWindow: a.outside,
		RoutesNotCounted: a.o.BodyRoutes, First: a.first, Last: a.last, Actors: len(a.actors), FoldedKeys: a.folded, BreachScope: map[string]int{}, ErrorBound: 1.04 / 128}
	if a.exact() {
		r.ErrorBound, r.Exact = 0, true
	}
	if a.folded > 0 { // an estimate then (±0.8%): keys may have been folded and seen again
		r.Actors = int(a.keys.Estimate())
	}
	r.ExactAbandoned = a.inexact
	scope := make([]*hyperloglog.Sketch, len(a.entities))
	exactScope := make([]map[uint64]struct{}, len(a.entities))
	// Rows only for the suspects and the top of the rest: a log can hold
	// millions of keys, and a row is maps and strings.
	row := func(ac *actor) ActorReport {
		row := ActorReport{Key: ac.key.String(), Address: ac.addr, First: ac.first, Last: ac.last,
			Requests: ac.requests, Misses: ac.misses, Records: map[string]int{}}
		if ac.key.Kind == identity.Crew {
			row.Addresses = int(ac.links.n[identity.IP])
		}
		for i := range ac.sketches {
			if !ac.sketches[i].empty() {
				n := a.count(ac, i)
				row.Records[a.entities[i]] = n
				row.totalForOrdering += n
			}
		}
		return row
	}
	var rows []ActorReport
	var best []ranked // the top non-suspects, unordered
	for _, ac := range a.actors {
		if !ac.suspect() {
			if total := a.total(ac); total > 0 {
				best = keepTop(best, ranked{ac, total}, top)
			}
			continue
		}
		r.Suspects++
		row := row(ac)
		t := ac.detected
		row.Suspect, row.DetectedAt, row.Rule, row.Action, row.Signals = true, &t, ac.rule, ac.action, ac.signals
		row.Revealed = a.revealed(ac)
		row.RecordsBefore, row.RecordsAfter = map[string]int{}, map[string]int{}
		for i := range ac.sketches {
			d := &ac.sketches[i]
			if d.empty() {
				continue
			}
			before := int(a.before(ac, i))
			row.RecordsBefore[a.entities[i]] = before
			row.RecordsAfter[a.entities[i]] = max(0, row.Records[a.entities[i]]-before)
			if scope[i] == nil {
				scope[i] = hyperloglog.New14()
			}
			d.mergeInto(scope[i])
			if a.exact() && ac.exact != nil && ac.exact[i] != nil {
				if exactScope[i] == nil {
					exactScope[i] = map[uint64]struct{}{}
				}
				for h := range ac.exact[i] {
					exactScope[i][h] = struct{}{}
				}
			}
		}
		rows = append(rows, row)
	}
	for _, b := range best {
		rows = append(rows, row(b.ac))
	}
	for i, sk := range scope {
		switch {
		case sk == nil:
		case a.exact():
			r.BreachScope[a.entities[i]] = len(exactScope[i])
		default:
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

// distinct counts one key's distinct records of one entity: exactly, in a
// short list, while few (most keys of a log see a handful, and a sketch
// costs kilobytes), then in a HyperLogLog sketch.
type distinct struct {
	small []uint64
	sk    *hyperloglog.Sketch
}

const smallMax = 64

func (d *distinct) add(h uint64) {
	if d.sk != nil {
		d.sk.InsertHash(h)
		return
	}
	for _, x := range d.small {
		if x == h {
			return
		}
	}
	if len(d.small) < smallMax {
		d.small = append(d.small, h)
		return
	}
	d.sk = hyperloglog.New14()
	for _, x := range d.small {
		d.sk.InsertHash(x)
	}
	d.sk.InsertHash(h)
	d.small = nil
}

func (d *distinct) empty() bool { return d.sk == nil && len(d.small) == 0 }

func (d *distinct) count() int {
	if d.sk != nil {
		return int(d.sk.Estimate())
	}
	return len(d.small)
}

func (d *distinct) mergeInto(s *hyperloglog.Sketch) {
	if d.sk != nil {
		_ = s.Merge(d.sk)
		return
	}
	for _, x := range d.small {
		s.InsertHash(x)
	}
}

// hourCount is the records served to a key in one unix hour.
type hourCount struct {
	h int32
	n uint32
}

// addHour adds n records at hour h. Logs are mostly in time order, so the
// last entry is nearly always the one.
func addHour(hs []hourCount, h int32, n uint32) []hourCount {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].h == h {
			hs[i].n += n
			return hs
		}
	}
	return append(hs, hourCount{h, n})
}
