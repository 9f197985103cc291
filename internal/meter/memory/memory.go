// Package memory is the in-process meter: distinct records each actor key has
// received, per entity, over sliding windows, plus its requests and misses.
//
// A window of width W is kept as Buckets+1 time buckets of W/Buckets each, so
// a count covers the last W plus at most one bucket (W/12): a budget is never
// under-counted at a bucket edge.
//
// Distinct counts start exact (a small list of record hashes with the time
// each was last served) and switch to HyperLogLog sketches, one per bucket
// plus a running union, when an actor passes ExactUpTo records. Most actors
// never leave the exact list, which costs 16 bytes a record.
package memory

import (
	"slices"
	"sync"
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
	Windows   []time.Duration // ascending
	Entities  int
	ExactUpTo int // distinct records per actor and entity kept exactly
	MaxActors int // actor keys held before the least recently seen are evicted
}

// Memory is a meter held in process memory.
type Memory struct {
	windows   []time.Duration
	widths    []int64 // bucket width per window, ns
	entities  int
	exactUpTo int
	shardCap  int
	shards    [numShards]shard
}

type shard struct {
	mu        sync.Mutex
	m         map[identity.Key]*actor
	head      *actor // most recently seen
	tail      *actor
	evictions uint64
}

type actor struct {
	key        identity.Key
	prev, next *actor
	last       int64
	traffic    []ring // per window: requests and misses
	ents       []*distinct
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
}

type entry struct {
	hash uint64
	last int64
}

type windowSketch struct {
	ring   [Buckets + 1]*hyperloglog.Sketch
	epochs [Buckets + 1]int64
	union  *hyperloglog.Sketch // union of the live buckets
	uEpoch int64               // epoch the union was built for
	cached uint64              // last estimate of union
	// inserts since cached was computed: the estimate is refreshed once
	// pending reaches 1% of it, so a count lags by at most 1%.
	pending uint64
}

// New returns an empty meter.
func New(o Options) *Memory {
	if o.MaxActors < numShards {
		o.MaxActors = numShards
	}
	m := &Memory{
		windows:   o.Windows,
		entities:  o.Entities,
		exactUpTo: o.ExactUpTo,
		shardCap:  o.MaxActors / numShards,
	}
	for _, w := range o.Windows {
		width := int64(w) / Buckets
		if width < 1 {
			width = 1
		}
		m.widths = append(m.widths, width)
	}
	for i := range m.shards {
		m.shards[i].m = make(map[identity.Key]*actor)
	}
	return m
}

// Windows returns the windows metered, ascending.
func (m *Memory) Windows() []time.Duration { return m.windows }

// Resolution returns the bucket width of window wi.
func (m *Memory) Resolution(wi int) time.Duration { return time.Duration(m.widths[wi]) }

// WindowIndex returns the index of window w, or -1.
func (m *Memory) WindowIndex(w time.Duration) int { return slices.Index(m.windows, w) }

func (m *Memory) shard(k identity.Key) *shard {
	// Multiply before taking the top bits: keys are uniform keyed hashes in
	// production, but must spread even when they are not.
	return &m.shards[((k.Hash^uint64(k.Kind))*0x9e3779b97f4a7c15)>>56%numShards]
}

// Observe records that actor key k was served recs at now (unix ns), and
// whether the request was a miss. It writes the distinct count of every
// entity in recs, in every window, to counts[entity*len(windows)+window]
// and returns a bit mask of the entities written.
func (m *Memory) Observe(now int64, k identity.Key, recs []records.Found, miss bool, counts []uint64) (touched uint64) {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.get(k, true, m)
	a.last = now
	for wi := range a.traffic {
		r := &a.traffic[wi]
		e := now / m.widths[wi]
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
			counts[ent*nw+wi] = m.count(a.ents[ent], now, wi)
		}
	}
	return touched
}

// Count returns the distinct records of entity ent served to k in window wi.
func (m *Memory) Count(now int64, k identity.Key, ent, wi int) uint64 {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.m[k]
	if a == nil || ent < 0 || ent >= len(a.ents) || a.ents[ent] == nil {
		return 0
	}
	return m.count(a.ents[ent], now, wi)
}

// Traffic returns k's requests and misses in window wi.
func (m *Memory) Traffic(now int64, k identity.Key, wi int) (req, miss uint64) {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.m[k]
	if a == nil {
		return 0, 0
	}
	return m.traffic(a, now, wi)
}

func (m *Memory) traffic(a *actor, now int64, wi int) (req, miss uint64) {
	r := &a.traffic[wi]
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
		n += len(s.m)
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
func (m *Memory) Each(now int64, wi int, fn func(ActorCount)) {
	since := now - int64(m.windows[wi]) - m.widths[wi]
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		// Not ordered by time: replayed events can arrive out of order.
		for a := s.head; a != nil; a = a.next {
			if a.last < since {
				continue
			}
			ac := ActorCount{Key: a.key, Records: make([]uint64, m.entities), LastSeen: a.last}
			for ent, d := range a.ents {
				if d != nil {
					ac.Records[ent] = m.count(d, now, wi)
				}
			}
			ac.Requests, ac.Misses = m.traffic(a, now, wi)
			fn(ac)
		}
		s.mu.Unlock()
	}
}

// get finds or (if create) adds the actor for k, moving it to the front.
func (s *shard) get(k identity.Key, create bool, m *Memory) *actor {
	a := s.m[k]
	if a == nil {
		if !create {
			return nil
		}
		if len(s.m) >= m.shardCap && s.tail != nil {
			old := s.tail
			s.unlink(old)
			delete(s.m, old.key)
			s.evictions++
		}
		a = &actor{key: k, traffic: make([]ring, len(m.windows)), ents: make([]*distinct, m.entities)}
		s.m[k] = a
	} else if s.head == a {
		return a
	} else {
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
				d.exact[i].last = now
				return
			}
		}
		if len(d.exact) >= m.exactUpTo {
			m.prune(d, now)
		}
		d.exact = append(d.exact, entry{h, now})
		if len(d.exact) > m.exactUpTo {
			m.toSketch(d, now)
		}
		return
	}
	for wi, ws := range d.sketch {
		m.roll(ws, now, wi)
		e := now / m.widths[wi]
		slot := e % (Buckets + 1)
		ws.ring[slot].InsertHash(fmix(h))
		ws.union.InsertHash(fmix(h))
		ws.pending++
	}
}

// prune drops exact entries older than the longest window.
func (m *Memory) prune(d *distinct, now int64) {
	wi := len(m.windows) - 1
	oldest := (now/m.widths[wi] - Buckets) * m.widths[wi]
	d.exact = slices.DeleteFunc(d.exact, func(e entry) bool { return e.last < oldest })
}

func (m *Memory) toSketch(d *distinct, now int64) {
	d.sketch = make([]*windowSketch, len(m.windows))
	for wi := range m.windows {
		ws := &windowSketch{union: newSketch(), uEpoch: now / m.widths[wi]}
		cur := now / m.widths[wi]
		for _, e := range d.exact {
			ep := e.last / m.widths[wi]
			if ep <= cur-Buckets-1 {
				continue
			}
			slot := ep % (Buckets + 1)
			if ws.ring[slot] == nil || ws.epochs[slot] != ep {
				ws.ring[slot], ws.epochs[slot] = newSketch(), ep
			}
			ws.ring[slot].InsertHash(fmix(e.hash))
			ws.union.InsertHash(fmix(e.hash))
		}
		slot := cur % (Buckets + 1)
		if ws.ring[slot] == nil || ws.epochs[slot] != cur {
			ws.ring[slot], ws.epochs[slot] = newSketch(), cur
		}
		ws.cached = ws.union.Estimate()
		d.sketch[wi] = ws
	}
	d.exact = nil
}

// roll brings a window's buckets up to now: a new current bucket, and the
// union rebuilt from the buckets still inside the window.
func (m *Memory) roll(ws *windowSketch, now int64, wi int) {
	cur := now / m.widths[wi]
	if cur == ws.uEpoch {
		return
	}
	slot := cur % (Buckets + 1)
	if ws.epochs[slot] != cur || ws.ring[slot] == nil {
		if ws.ring[slot] == nil {
			ws.ring[slot] = newSketch()
		} else {
			ws.ring[slot].Reset()
		}
		ws.epochs[slot] = cur
	}
	u := newSketch()
	for i, sk := range ws.ring {
		if sk != nil && ws.epochs[i] > cur-Buckets-1 && ws.epochs[i] <= cur {
			_ = u.Merge(sk) // same precision by construction
		}
	}
	ws.union, ws.uEpoch = u, cur
	ws.cached, ws.pending = u.Estimate(), 0
}

func (m *Memory) count(d *distinct, now int64, wi int) uint64 {
	if d == nil {
		return 0
	}
	if d.sketch == nil {
		cur := now / m.widths[wi]
		var n uint64
		for _, e := range d.exact {
			if e.last/m.widths[wi] > cur-Buckets-1 {
				n++
			}
		}
		return n
	}
	ws := d.sketch[wi]
	m.roll(ws, now, wi)
	if ws.pending > 0 && ws.pending*100 >= ws.cached {
		ws.cached, ws.pending = ws.union.Estimate(), 0
	}
	return ws.cached
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
	sk, _ := hyperloglog.NewSketch(14, true)
	return sk
}
