// Package memory is the in-process meter: distinct records each actor key has
// received, per entity, over sliding windows, plus its requests and misses.
//
// A window of width W is kept as Buckets+1 time buckets of W/Buckets each, so
// a count covers the last W plus at most one bucket (W/12): a budget is never
// under-counted at a bucket edge.
//
// Distinct counts start exact (a small list of record hashes with the time
// each was last served) and switch to one record set per time bucket when an
// actor passes ExactUpTo records; a bucket past 1,024 records becomes a
// HyperLogLog sketch (precision 12, ±1.6%). Most actors never leave the
// exact list, which costs 16 bytes a record.
package memory

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Buckets is the number of buckets a window is divided into.
const Buckets = 12

const numShards = 256

// Options configure a Memory meter.
type Options struct {
	// Windows are metered, ascending. With none, one hour is: requests and
	// misses still count (the engine's signals read the smallest window),
	// and no caller has to guard against a meter without a window.
	Windows   []time.Duration
	Entities  int
	ExactUpTo int // distinct records per actor and entity kept exactly
	MaxActors int // actor keys held before the least recently seen are evicted
	// MaxBytes, if set, bounds the heap actor state holds: MaxActors is
	// lowered to MaxBytes / ActorBytes. Heavy actors (past ExactUpTo
	// records, with sketches) hold more; they are few, and the estimate
	// covers the light ones a flood of fresh addresses brings.
	MaxBytes int64
	// Persist tracks changed actors for Drain, so a store can keep them.
	Persist bool
	// Load, if set, returns a key's stored state (nil if none) when the key
	// is not in memory: a store makes memory a cache of its actors, so an
	// evicted or restarted actor's budget is not forgotten.
	Load func(identity.Key) []byte
}

// Memory is a meter held in process memory.
type Memory struct {
	windows   []time.Duration
	widths    []int64 // bucket width per window, ns
	grain     int64   // divides every width: times are stored to it (see appendEncoded)
	entities  int
	exactUpTo int
	shardCap  int
	spillCap  int // evicted actors waiting for a drain, per shard (spillCapOf)
	persist   bool
	load      func(identity.Key) []byte
	corrupt   atomic.Uint64
	shards    [numShards]shard
	// recount turns off the kept counts (runs, unions): every count is
	// made afresh, as before they were kept. Tests compare the two.
	recount bool
	// apart: address keys live in shards of their own (SeparateAddresses).
	apart bool
	// trafficWin, if not -1: only address keys count requests and misses,
	// in this window only (AddressTrafficOnly).
	trafficWin int
}

type shard struct {
	mu sync.Mutex
	// m finds an actor by its key's hash (a 16-byte identity.Key was
	// hashed with AES and compared field by field on every lookup, several
	// per request, in a Go map). Keys of other kinds with the same hash
	// chain through alias.
	m         table
	n         int    // actors held
	head      *actor // most recently seen, once linked
	tail      *actor
	last      *actor // the last found
	evictions uint64
	dirty     map[identity.Key]struct{} // changed since the last Drain
	spill     []Saved                   // evicted while dirty
	spillAt   int                       // the oldest in spill, once it is full
	dropped   uint64
	// linked: the actors are in a list, most recently seen first, kept on
	// every get. Until the shard first fills (and in a replay whose keys
	// all fit, never) each get only stamps the actor with seen, the next
	// tick of the shard's clock: moving it to the front would write to
	// its two neighbours, two cache misses on every call. The list is made
	// from the stamps when it is first needed (an eviction, Each), in the
	// order the moves would have left it.
	linked bool
	clock  uint64
}

type actor struct {
	key        identity.Key
	prev, next *actor
	alias      *actor // the next actor whose key has the same hash
	last       int64
	seen       uint64      // the shard's clock at the last get
	traffic    []ring      // per window: requests and misses (AddressTrafficOnly: one or none)
	ents       []*distinct // per entity, up to the last the key took
}

// ring counts requests and misses per bucket.
type ring struct {
	epoch [Buckets + 1]int64
	req   [Buckets + 1]uint32
	miss  [Buckets + 1]uint32
}

type distinct struct {
	exact  []entry
	sketch []*windowSketch // per window; nil while exact
	// runs, per window, the count of the exact list once it is long
	// enough for a walk per call to cost: budgets, peaks and Observe ask
	// for every window on every request, and the answer changes only when
	// a record arrives or the oldest counted one leaves the window.
	runs []run
}

// run is a window's count of an exact list as of epoch cur: n entries
// were in the window then, none of them from before epoch oldest. It
// holds for any later epoch up to oldest+Buckets (entries outside a window
// never come back into it as time goes on), and inserts keep it.
type run struct {
	cur, oldest int64
	n           uint32 // at most ExactUpTo+1
	ok          bool
}

// runFrom is the exact list length from which counts are kept: below it a
// walk is as cheap as the bookkeeping, and light actors (a flood's) stay
// as small as they were.
const runFrom = 16

type entry struct {
	hash uint64
	last int64
}

// bucket holds the records of one time bucket: an exact set while small,
// a dense HyperLogLog sketch (16 KiB, O(1) inserts) beyond setMax. This is
// cheaper than axiomhq's own sparse mode, which re-merges a compressed list
// every ~164 inserts at a cost that grows with the list.
type bucket struct {
	set hashSet
	hll *hyperloglog.Sketch
}

// Counts stay exact while every bucket of a window is a set: budgets in the
// hundreds mean exactly what they say. A full set (~12 KiB in a Go map)
// becomes a dense sketch of 2^precision one-byte registers, 4 KiB, ±1.6%
// (1.04/√4096); a heavy key holds up to Buckets+1 of them per window.
const (
	setMax    = 1024
	precision = 12
)

// insert adds h and reports whether it may be new to the bucket (always
// true once dense: a sketch cannot tell).
func (b *bucket) insert(h uint64) bool {
	if b.hll != nil {
		b.hll.InsertHash(fmix(h))
		return true
	}
	if !b.set.add(h) {
		return false
	}
	if b.set.len() > setMax {
		b.hll = newSketch()
		for x := range b.set.all {
			b.hll.InsertHash(fmix(x))
		}
		b.set = hashSet{}
	}
	return true
}

func (b *bucket) reset() {
	if b.hll != nil {
		b.hll = nil // back to a small set: most buckets are small
	}
	b.set.clear()
}

type windowSketch struct {
	ring   [Buckets + 1]*bucket
	epochs [Buckets + 1]int64
	cur    int64  // epoch of the current bucket
	cached uint64 // estimate of the union of the live buckets, when last made
	// inserts since cached was made. cached+pending bounds the count from
	// above without touching a sketch: the union of the live buckets is
	// merged and estimated (~75µs dense, a math.Pow per register) only when
	// that bound reaches a budget's limit, or for reports. Buckets leaving
	// the window only lower the true count, so the bound survives rolls.
	pending  uint64
	estEpoch int64 // cur when cached was made
	// union is the exact count of the records in the live buckets while
	// unionOK: kept as records arrive (one new to every live bucket adds
	// one) and as a bucket leaves (its records no other live bucket holds
	// go), so a precise Count does not take the union of up to 13 sets
	// on every call, as it did for the people behind a carrier NAT's /24.
	// Kept only while every live bucket is a set and time moves on by one
	// bucket at a time; anything else drops it until the next Count makes
	// it again in full.
	union   uint64
	unionOK bool
	// regs are the registers of the union sketch cached was estimated
	// from, when a live bucket is a sketch (nil otherwise); raised says an
	// insert since went above one of them. Until one does, the union is
	// the same sketch and a Count need not merge and estimate it again
	// (~75µs): most people behind a busy NAT were seen before.
	regs   []uint8
	raised bool
	// sum is liveSum's answer while sumOK: kept as records arrive, made
	// again after a roll (or a restore, which leaves sumOK false).
	sum   uint64
	sumOK bool
}

// New returns an empty meter.
func New(o Options) *Memory {
	if len(o.Windows) == 0 {
		o.Windows = []time.Duration{time.Hour}
	}
	if o.MaxBytes > 0 {
		o.MaxActors = min(o.MaxActors, int(o.MaxBytes/int64(ActorBytes(len(o.Windows), o.Entities))))
	}
	if o.MaxActors < numShards {
		o.MaxActors = numShards
	}
	m := &Memory{
		windows:    o.Windows,
		entities:   o.Entities,
		exactUpTo:  o.ExactUpTo,
		shardCap:   o.MaxActors / numShards,
		spillCap:   spillCapOf(o.MaxActors / numShards),
		persist:    o.Persist,
		load:       o.Load,
		trafficWin: -1,
	}
	for _, w := range o.Windows {
		width := int64(w) / Buckets
		if width < 1 {
			width = 1
		}
		m.widths = append(m.widths, width)
		m.grain = gcd(m.grain, width)
	}
	m.grain = max(m.grain, 1)
	for i := range m.shards {
		m.shards[i].dirty = make(map[identity.Key]struct{})
	}
	return m
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ActorBytes estimates the heap one light actor key holds (a few records,
// no sketch) with this many windows and entities, persisted: the actor,
// its request ring per window, its entity slots (at most every entity's:
// slots go up to the last entity taken), one entity's exact list,
// and its entries in the shard's map and dirty set. Calibrated against
// BenchmarkBytesPerActor, which measures it, and pinned by
// TestActorBytesMatchesTheHeap.
func ActorBytes(windows, entities int) int {
	const (
		actorStruct = 112 // key, list links, last seen and its stamp, two slice headers
		ringBytes   = 208 // per window: Buckets+1 epochs, requests, misses
		oneEntity   = 208 // a distinct (72, in an 80-byte class) and an exact list grown to 8 entries (128)
		mapEntries  = 96  // its entries in the shard's map and dirty set, at load
	)
	return actorStruct + allocSize(ringBytes*windows) + allocSize(8*entities) + oneEntity + mapEntries
}

// allocSize rounds n up as Go's allocator does, near enough: size
// classes step by 16 bytes up to 256, then by about an eighth.
func allocSize(n int) int {
	if n <= 256 {
		return (n + 15) &^ 15
	}
	step := 1 << (bits.Len(uint(n)) - 4)
	return (n + step - 1) &^ (step - 1)
}

// MaxActors returns how many actor keys the meter holds at most.
func (m *Memory) MaxActors() int { return m.shardCap * numShards }

// Windows returns the windows metered, ascending.
// ExactUpTo is how many distinct records a key's entity is kept exactly
// for: up to it a bound is the exact count; past it, a sketch's bound adds
// every insert since its last estimate, repeats included.
func (m *Memory) ExactUpTo() int { return m.exactUpTo }

func (m *Memory) Windows() []time.Duration { return m.windows }

// Resolution returns the bucket width of window wi.
func (m *Memory) Resolution(wi int) time.Duration { return time.Duration(m.widths[wi]) }

// WindowIndex returns the index of window w, or -1.
func (m *Memory) WindowIndex(w time.Duration) int { return slices.Index(m.windows, w) }

func (m *Memory) shard(k identity.Key) *shard {
	return &m.shards[m.shardIndex(k)]
}

func (m *Memory) shardIndex(k identity.Key) int {
	// Multiply before taking the top bits: keys are uniform keyed hashes in
	// production, but must spread even when they are not.
	i := int(((k.Hash ^ uint64(k.Kind)) * 0x9e3779b97f4a7c15) >> 56 % numShards)
	if m.apart {
		i >>= 1
		if k.Kind != identity.IP {
			i += numShards / 2
		}
	}
	return i
}

// SeparateAddresses keeps address keys in half of the shards and every
// other key in the other half, before any key is metered. A replay that
// meters a chunk's address keys before its other keys (analyze, sharded)
// then changes no shard's order of calls, so each shard evicts what it
// would have evicted in line order. Keys of one Partition still share
// their shards with no other partition's.
func (m *Memory) SeparateAddresses() { m.apart = true }

// AddressTrafficOnly counts requests and misses for address keys only, in
// window wi only, before any key is metered. The engine reads an
// address's traffic in its risk window (enumeration) and nothing else's;
// the rest is for the dashboard, which a log replay has none of. The rings
// were most of a light key's memory: 208 bytes a window of some 900, on a
// log where every visit is a session of its own. Traffic asks of any other
// key or window are answered 0.
func (m *Memory) AddressTrafficOnly(wi int) { m.trafficWin = wi }

// ringCount is how many request rings key k's actor holds.
func (m *Memory) ringCount(k identity.Key) int {
	switch {
	case m.trafficWin < 0:
		return len(m.windows)
	case k.Kind == identity.IP:
		return 1
	}
	return 0
}

// ringWindow is the window ring i of an actor counts.
func (m *Memory) ringWindow(i int) int {
	if m.trafficWin < 0 {
		return i
	}
	return m.trafficWin
}

// ringsFor returns the request rings a new actor for key k holds.
func (m *Memory) ringsFor(k identity.Key) []ring {
	if n := m.ringCount(k); n > 0 {
		return make([]ring, n)
	}
	return nil
}

// Partition is which of 64 partitions a key falls in: the keys of one
// share no shard with another partition's, whether addresses are apart or
// not, so goroutines that each meter whole partitions never share a shard.
func Partition(k identity.Key) int {
	return int(((k.Hash ^ uint64(k.Kind)) * 0x9e3779b97f4a7c15) >> 58)
}

// Observe records that actor key k was served recs at now (unix ns), and
// whether the request was a miss. It writes an upper bound of the distinct
// count of every entity in recs, in every window, to
// counts[entity*len(windows)+window] and returns a bit mask of the entities
// written. The bound is exact while an actor is small, and otherwise the
// last estimate plus the records inserted since; Count gives the estimate.
func (m *Memory) Observe(now int64, k identity.Key, recs []records.Found, miss bool, counts []uint64) (touched uint64) {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.get(k, true, m)
	a.last = now
	s.markDirty(m, k)
	for i := range a.traffic {
		r := &a.traffic[i]
		e := now / m.widths[m.ringWindow(i)]
		slot := e % (Buckets + 1)
		if r.epoch[slot] != e {
			r.epoch[slot], r.req[slot], r.miss[slot] = e, 0, 0
		}
		r.req[slot]++
		if miss {
			r.miss[slot]++
		}
	}
	for _, rec := range recs {
		if rec.Entity < 0 || rec.Entity >= m.entities {
			continue
		}
		if rec.Entity >= len(a.ents) {
			// Up to the last entity the key took: most take one of the
			// catalog's several (PII detectors and people included).
			a.ents = append(a.ents, make([]*distinct, rec.Entity+1-len(a.ents))...)
		}
		d := a.ents[rec.Entity]
		if d == nil {
			d = &distinct{}
			a.ents[rec.Entity] = d
		}
		m.insert(d, now, rec.Hash)
		touched |= 1 << (rec.Entity & 63)
	}
	nw := len(m.windows)
	for ent := 0; ent < m.entities && ent < 64; ent++ {
		if touched&(1<<ent) == 0 {
			continue
		}
		for wi := 0; wi < nw; wi++ {
			counts[ent*nw+wi] = m.count(a.ents[ent], now, wi, false)
		}
	}
	return touched
}

// Bound returns an upper bound of Count without estimating a sketch.
func (m *Memory) Bound(now int64, k identity.Key, ent, wi int) uint64 {
	return m.lookup(now, k, ent, wi, false)
}

// Bounds writes Bound(now, k, i/windows, i%windows) to dst[i] for every
// bit i set in want, under one lock and one lookup of k: the engine asks
// for all of a key's budgets at once.
func (m *Memory) Bounds(now int64, k identity.Key, want uint64, dst []uint64) {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(k)
	if a == nil && m.load != nil {
		a = s.get(k, true, m) // as lookup does
	}
	nw := len(m.windows)
	for ; want != 0; want &= want - 1 {
		i := bits.TrailingZeros64(want)
		ent, wi := i/nw, i%nw
		var b uint64
		if a != nil && ent < len(a.ents) && a.ents[ent] != nil {
			b = m.count(a.ents[ent], now, wi, false)
		}
		dst[i] = b
	}
}

// Count returns the distinct records of entity ent served to k in window wi.
func (m *Memory) Count(now int64, k identity.Key, ent, wi int) uint64 {
	return m.lookup(now, k, ent, wi, true)
}

func (m *Memory) lookup(now int64, k identity.Key, ent, wi int, precise bool) uint64 {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(k)
	if a == nil && m.load != nil {
		a = s.get(k, true, m) // a stored actor is over budget before its first new request
	}
	if a == nil || ent < 0 || ent >= len(a.ents) || a.ents[ent] == nil {
		return 0
	}
	return m.count(a.ents[ent], now, wi, precise)
}

// Traffic returns k's requests and misses in window wi.
func (m *Memory) Traffic(now int64, k identity.Key, wi int) (req, miss uint64) {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(k)
	if a == nil {
		return 0, 0
	}
	return m.traffic(a, now, wi)
}

func (m *Memory) traffic(a *actor, now int64, wi int) (req, miss uint64) {
	ri := wi
	if m.trafficWin >= 0 {
		ri = 0
		if wi != m.trafficWin {
			ri = len(a.traffic) // not counted (AddressTrafficOnly)
		}
	}
	if ri >= len(a.traffic) {
		return 0, 0
	}
	r := &a.traffic[ri]
	cur := now / m.widths[wi]
	for i := range r.epoch {
		if r.epoch[i] > cur-Buckets-1 && r.epoch[i] <= cur {
			req += uint64(r.req[i])
			miss += uint64(r.miss[i])
		}
	}
	return req, miss
}

// Len returns the number of actor keys held.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Evictions returns how many actor keys were evicted to stay under MaxActors.
func (m *Memory) Evictions() uint64 {
	var n uint64
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.evictions
		s.mu.Unlock()
	}
	return n
}

// Corrupt returns how many stored actor states could not be decoded (and
// were started afresh).
func (m *Memory) Corrupt() uint64 { return m.corrupt.Load() }

// ActorCount is one actor key's totals in a window.
type ActorCount struct {
	Key      identity.Key
	Records  []uint64 // per entity
	Requests uint64
	Misses   uint64
	LastSeen int64
}

// Each calls fn for every actor key seen within window wi of now. fn must
// not call back into the meter.
func (m *Memory) Each(now int64, wi int, fn func(ActorCount)) { m.EachOf(now, wi, nil, fn) }

// EachOf is Each for the keys of the kinds keep keeps (nil: every kind),
// counting no other: a replay that learns walks the keys of the kinds its
// budgets learn for now and then, and counting every other key too is
// work for nothing (analyze's learner).
func (m *Memory) EachOf(now int64, wi int, keep func(identity.Kind) bool, fn func(ActorCount)) {
	since := now - int64(m.windows[wi]) - m.widths[wi]
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		// A shard that was not linked goes back to stamps after the walk
		// (linked): a replay that learns walks its keys now and then, and
		// the list would be kept on every get from the first walk on.
		wasLinked := s.linked
		s.link()
		// Not ordered by time: replayed events can arrive out of order.
		for a := s.head; a != nil; a = a.next {
			if a.last < since || keep != nil && !keep(a.key.Kind) {
				continue
			}
			ac := ActorCount{Key: a.key, Records: make([]uint64, m.entities), LastSeen: a.last}
			for ent, d := range a.ents {
				if d != nil {
					ac.Records[ent] = m.count(d, now, wi, true)
				}
			}
			ac.Requests, ac.Misses = m.traffic(a, now, wi)
			fn(ac)
		}
		s.linked = wasLinked
		s.mu.Unlock()
	}
}

// get finds or (if create) adds the actor for k, moving it to the front.
func (s *shard) get(k identity.Key, create bool, m *Memory) *actor {
	a := s.find(k)
	if a == nil {
		if !create {
			return nil
		}
		var old *actor
		if s.n >= m.shardCap && !s.linked {
			s.link()
		}
		if s.n >= m.shardCap && s.tail != nil {
			old = s.tail
			s.unlink(old)
			s.remove(old)
			s.evictions++
			s.evicted(m, old)
		}
		if m.load != nil {
			if b := m.load(k); b != nil {
				var err error
				if a, err = m.decode(k, b); err != nil {
					m.corrupt.Add(1)
					a = nil
				}
			}
		}
		switch {
		case a != nil:
		case old != nil:
			a = old.recycle(k, m)
		default:
			a = &actor{key: k, traffic: m.ringsFor(k)}
		}
		s.put(a)
		s.clock++
		a.seen = s.clock
		if !s.linked {
			return a
		}
	} else {
		s.clock++
		a.seen = s.clock
		if !s.linked || s.head == a {
			return a
		}
		s.unlink(a)
	}
	a.next = s.head
	if s.head != nil {
		s.head.prev = a
	}
	s.head = a
	if s.tail == nil {
		s.tail = a
	}
	return a
}

// recycle makes the evicted actor a's memory the new actor k's. At the cap
// every fresh key evicts one; reusing it, rather than leaving ~900 bytes
// of garbage a key, keeps a flood from turning into garbage collection
// (the meter's throughput stays what it was before eviction began). An
// exact list keeps its array (at most ExactUpTo entries); sketches go.
func (a *actor) recycle(k identity.Key, m *Memory) *actor {
	traffic := a.traffic
	if n := m.ringCount(k); n != len(traffic) {
		traffic = m.ringsFor(k)
	}
	*a = actor{key: k, traffic: traffic, ents: a.ents}
	clear(a.traffic)
	for i, d := range a.ents {
		if d == nil {
			continue
		}
		if d.sketch != nil {
			a.ents[i] = nil
			continue
		}
		d.exact = d.exact[:0]
		clear(d.runs)
	}
	return a
}

// link makes the recency list from the actors' stamps, once: most
// recently seen first, as moving each to the front on every get would
// have left it.
func (s *shard) link() {
	if s.linked {
		return
	}
	s.linked = true
	all := make([]*actor, 0, s.n)
	s.m.all(func(a *actor) {
		for ; a != nil; a = a.alias {
			all = append(all, a)
		}
	})
	slices.SortFunc(all, func(x, y *actor) int { return cmp.Compare(y.seen, x.seen) })
	s.head, s.tail = nil, nil
	for i, a := range all {
		a.prev, a.next = nil, nil
		if i > 0 {
			a.prev, all[i-1].next = all[i-1], a
		}
	}
	if len(all) > 0 {
		s.head, s.tail = all[0], all[len(all)-1]
	}
}

func (s *shard) find(k identity.Key) *actor {
	// The engine asks for a key's bounds (Admit) and then meters it
	// (Observe): the second finds it here without the map.
	if a := s.last; a != nil && a.key == k {
		return a
	}
	a := s.m.get(k.Hash)
	for a != nil && a.key != k {
		a = a.alias
	}
	if a != nil {
		s.last = a
	}
	return a
}

func (s *shard) put(a *actor) {
	a.alias = s.m.get(a.key.Hash)
	s.m.set(a.key.Hash, a)
	s.n++
}

func (s *shard) remove(a *actor) {
	if s.last == a {
		s.last = nil
	}
	h := a.key.Hash
	if p := s.m.get(h); p == a {
		if a.alias == nil {
			s.m.del(h)
		} else {
			s.m.set(h, a.alias)
		}
	} else {
		for p.alias != a {
			p = p.alias
		}
		p.alias = a.alias
	}
	a.alias = nil
	s.n--
}

func (s *shard) unlink(a *actor) {
	if a.prev != nil {
		a.prev.next = a.next
	} else {
		s.head = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	} else {
		s.tail = a.prev
	}
	a.prev, a.next = nil, nil
}

func (m *Memory) insert(d *distinct, now int64, h uint64) {
	if d.sketch == nil {
		for i := range d.exact {
			if d.exact[i].hash == h {
				m.moved(d, d.exact[i].last, now)
				d.exact[i].last = now
				return
			}
		}
		if len(d.exact) >= m.exactUpTo {
			m.prune(d, now)
		}
		d.exact = append(d.exact, entry{h, now})
		m.moved(d, minInt64, now)
		if len(d.exact) > m.exactUpTo {
			m.toSketch(d, now)
		}
		return
	}
	for wi, ws := range d.sketch {
		m.roll(ws, now, wi)
		e := now / m.widths[wi]
		slot := e % (Buckets + 1)
		b := ws.ring[slot]
		if ws.regs != nil && !ws.raised {
			i, rho := posVal(fmix(h))
			ws.raised = rho > ws.regs[i]
		}
		if b.insert(h) {
			switch {
			case !ws.sumOK || ws.sum == math.MaxUint64:
			case b.hll != nil:
				ws.sumOK = false // dense now, or was
			default:
				ws.sum++
			}
			ws.pending++ // re-reads within a bucket do not loosen the bound
			if ws.unionOK {
				switch {
				case b.hll != nil:
					ws.unionOK = false
				case !ws.heldElsewhere(slot, h):
					ws.union++
				}
			}
		}
	}
}

const minInt64 = -1 << 63

// moved keeps the running counts as an entry's last time goes from old
// (minInt64 for a new entry) to now.
func (m *Memory) moved(d *distinct, old, now int64) {
	for wi := range d.runs {
		r := &d.runs[wi]
		if !r.ok {
			continue
		}
		if now < old {
			r.ok = false // an older event than the one kept: count again
			continue
		}
		w := m.widths[wi]
		from := r.cur - Buckets // the oldest epoch in the window at r.cur
		ep := now / w
		if ep >= from && (old == minInt64 || old/w < from) {
			r.n++
			r.oldest = min(r.oldest, ep)
		}
	}
}

// heldElsewhere reports whether a live bucket other than slot holds h.
func (ws *windowSketch) heldElsewhere(slot int64, h uint64) bool {
	for i, b := range ws.ring {
		if int64(i) == slot || b == nil || ws.epochs[i] < ws.cur-Buckets || ws.epochs[i] > ws.cur {
			continue
		}
		if b.set.has(h) {
			return true
		}
	}
	return false
}

// prune drops exact entries older than the longest window.
func (m *Memory) prune(d *distinct, now int64) {
	wi := len(m.windows) - 1
	oldest := (now/m.widths[wi] - Buckets) * m.widths[wi]
	n := len(d.exact)
	d.exact = slices.DeleteFunc(d.exact, func(e entry) bool { return e.last < oldest })
	if len(d.exact) != n {
		clear(d.runs) // counts again from the list
	}
}

func (m *Memory) toSketch(d *distinct, now int64) {
	d.sketch = make([]*windowSketch, len(m.windows))
	for wi := range m.windows {
		cur := now / m.widths[wi]
		ws := &windowSketch{cur: cur}
		for _, e := range d.exact {
			ep := e.last / m.widths[wi]
			if ep <= cur-Buckets-1 {
				continue
			}
			slot := ep % (Buckets + 1)
			if ws.ring[slot] == nil || ws.epochs[slot] != ep {
				ws.ring[slot], ws.epochs[slot] = &bucket{}, ep
			}
			ws.ring[slot].insert(e.hash)
			ws.pending++
		}
		m.roll(ws, now, wi)
		d.sketch[wi] = ws
	}
	d.exact, d.runs = nil, nil
}

// roll makes sure the current bucket exists and is empty when new.
func (m *Memory) roll(ws *windowSketch, now int64, wi int) {
	cur := now / m.widths[wi]
	slot := cur % (Buckets + 1)
	if cur == ws.cur && ws.ring[slot] != nil {
		return
	}
	if ws.unionOK {
		// Only the common step is kept: on to the next bucket, whose slot
		// holds nothing or the bucket now leaving the window.
		if cur == ws.cur+1 && (ws.ring[slot] == nil || ws.epochs[slot] < cur-Buckets) {
			if ws.ring[slot] != nil && ws.epochs[slot] == cur-Buckets-1 {
				for x := range ws.ring[slot].set.all {
					if !ws.heldElsewhere(slot, x) {
						ws.union--
					}
				}
			}
		} else if cur != ws.cur {
			ws.unionOK = false
		}
	}
	if ws.ring[slot] == nil {
		ws.ring[slot] = &bucket{}
	} else if ws.epochs[slot] != cur {
		ws.ring[slot].reset()
	}
	ws.epochs[slot], ws.cur = cur, cur
	ws.sumOK = false
}

// liveSum bounds the union of the live buckets from above while each is
// a set, by the sum of their sizes (no bound once one is dense); not by
// the union where it is kept, so that keeping it changes no bound.
// cached+pending only grows until a precise count, which a key under its
// budgets never needs: a clerk's lookups, past exact_up_to in a day, read
// ~128 in every 10 minutes of the rest of it, and analyze took that for
// its peak and suggested budgets from it
// (TestAShortWindowsBoundFallsAsItsBucketsLeave).
func (ws *windowSketch) liveSum() uint64 {
	if ws.sumOK {
		return ws.sum
	}
	var n uint64
	for i, b := range ws.ring {
		if b == nil || ws.epochs[i] <= ws.cur-Buckets-1 || ws.epochs[i] > ws.cur {
			continue
		}
		if b.hll != nil {
			n = math.MaxUint64
			break
		}
		n += uint64(b.set.len())
	}
	ws.sum, ws.sumOK = n, true
	return n
}

// estimate counts the union of the buckets inside the window: exactly while
// every bucket is a set, else by merging into one sketch.
func (m *Memory) estimate(ws *windowSketch) uint64 {
	if ws.unionOK {
		return ws.union
	}
	n, exact, u := m.union(ws)
	ws.regs, ws.raised = nil, false
	if !exact && !m.recount {
		// The dense encoding is a header of 8 bytes and the registers.
		if b, err := u.AppendBinary(ws.regs[:0]); err == nil && len(b) == 8+1<<precision && b[3] == 0 {
			ws.regs = b[8:]
		}
	}
	if exact && !m.recount {
		future := false // a bucket ahead of cur (events out of order) may come into the window
		for i, b := range ws.ring {
			future = future || (b != nil && ws.epochs[i] > ws.cur)
		}
		ws.union, ws.unionOK = n, !future
	}
	return n
}

// union counts the union of the live buckets in full, and reports whether
// the count is exact (no bucket is a sketch); if not, the sketch of the
// union it estimated.
func (m *Memory) union(ws *windowSketch) (uint64, bool, *hyperloglog.Sketch) {
	var live []*bucket
	dense := false
	for i, b := range ws.ring {
		if b != nil && ws.epochs[i] > ws.cur-Buckets-1 && ws.epochs[i] <= ws.cur {
			live = append(live, b)
			dense = dense || b.hll != nil
		}
	}
	if !dense {
		if len(live) == 1 {
			return uint64(live[0].set.len()), true, nil
		}
		// count each hash in the last live bucket that holds it: no temporary set
		var n uint64
		for i, b := range live {
		next:
			for x := range b.set.all {
				for _, later := range live[i+1:] {
					if later.set.has(x) {
						continue next
					}
				}
				n++
			}
		}
		return n, true, nil
	}
	u := newSketch()
	for _, b := range live {
		if b.hll != nil {
			_ = u.Merge(b.hll) // same precision by construction
		}
		for x := range b.set.all {
			u.InsertHash(fmix(x))
		}
	}
	return u.Estimate(), false, u
}

func (m *Memory) count(d *distinct, now int64, wi int, precise bool) uint64 {
	if d == nil {
		return 0
	}
	if d.sketch == nil {
		cur := now / m.widths[wi]
		if wi < len(d.runs) {
			if r := &d.runs[wi]; r.ok && cur >= r.cur && r.oldest >= cur-Buckets {
				r.cur = cur
				return uint64(r.n)
			}
		}
		n, oldest := m.walk(d, cur, wi)
		if len(d.exact) >= runFrom && !m.recount {
			if d.runs == nil {
				d.runs = make([]run, len(m.windows))
			}
			d.runs[wi] = run{cur: cur, oldest: oldest, n: uint32(n), ok: true}
		}
		return n
	}
	ws := d.sketch[wi]
	m.roll(ws, now, wi)
	if !precise {
		return min(ws.cached+ws.pending, ws.liveSum())
	}
	if ws.estEpoch == ws.cur && ws.regs != nil && !ws.raised {
		ws.pending = 0 // the same union as when cached was made
	}
	if ws.pending > 0 || ws.estEpoch != ws.cur {
		ws.cached, ws.pending, ws.estEpoch = m.estimate(ws), 0, ws.cur
	}
	return ws.cached
}

// posVal is the register a hash raises in a sketch of this precision, and
// to what: as axiomhq/hyperloglog's dense sketch does (TestKeptCountsEqualRecounts
// would see a difference).
func posVal(x uint64) (i uint64, rho uint8) {
	return x >> (64 - precision), uint8(bits.LeadingZeros64(x<<precision|1<<(precision-1))) + 1
}

// walk counts the exact entries in window wi at epoch cur, and the oldest
// epoch among them.
func (m *Memory) walk(d *distinct, cur int64, wi int) (n uint64, oldest int64) {
	w := m.widths[wi]
	oldest = 1<<63 - 1
	for _, e := range d.exact {
		if ep := e.last / w; ep > cur-Buckets-1 {
			n++
			oldest = min(oldest, ep)
		}
	}
	return n, oldest
}

// fmix spreads a hash's bits (MurmurHash3's finaliser). HyperLogLog needs
// uniform hashes; record hashes are keyed SipHash and already are, but the
// meter must not go wrong if handed ids that are not.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func newSketch() *hyperloglog.Sketch {
	sk, _ := hyperloglog.NewSketch(precision, false)
	return sk
}

// Series returns key k's distinct records of entity ent in each bucket of
// window wi, oldest first (Buckets+1 values, the last the current bucket),
// for charts. Counts are exact while the actor is small, estimates after.
func (m *Memory) Series(now int64, k identity.Key, ent, wi int) []uint64 {
	out := make([]uint64, Buckets+1)
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(k)
	if a == nil || ent < 0 || ent >= len(a.ents) || a.ents[ent] == nil {
		return out
	}
	d := a.ents[ent]
	cur := now / m.widths[wi]
	if d.sketch == nil {
		for _, e := range d.exact {
			if age := cur - e.last/m.widths[wi]; age >= 0 && age <= Buckets {
				out[Buckets-age]++
			}
		}
		return out
	}
	ws := d.sketch[wi]
	for i, b := range ws.ring {
		if b == nil {
			continue
		}
		age := cur - ws.epochs[i]
		if age < 0 || age > Buckets {
			continue
		}
		if b.hll != nil {
			out[Buckets-age] = b.hll.Estimate()
		} else {
			out[Buckets-age] = uint64(b.set.len())
		}
	}
	return out
}
