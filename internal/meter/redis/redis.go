// Package redis shares meter state and sanctions across a fleet of
// proxies through Redis, with its native HyperLogLog commands.
//
// Each proxy meters locally (meter/memory) and buffers the record hashes it
// serves. Every Interval it flushes them in one pipeline — PFADD to
// time-bucketed keys per actor key, entity and window, with expiry — and
// reads back, with PFCOUNT over a window's live buckets, the fleet-wide
// count of every actor key it saw. Decisions read that local view, so most
// requests never wait for Redis; the view is at most one Interval (plus a
// round trip) stale. An actor's keys share a hash tag, so PFCOUNT over
// several buckets works on Redis Cluster too.
//
// A stale view alone lets each of n proxies hand out a whole budget before
// it hears of the others. So a key near one of its budgets (see near) is
// metered through: its records are written as they are served, and its
// fleet count is read before each of its requests is admitted. The proxy
// that finds a key near tells the others, which flush at once and meter
// that key through too. A near key's first exchange also writes what this
// proxy served of it before (still pending, or in a flush on the wire), so
// the count it reads holds each of this proxy's records once: counted
// twice, as in Redis and as not yet flushed, a key is refused early, and a
// block makes that lasting.
//
// Sanctions are shared by publish/subscribe, and stored with an expiry for
// proxies that start later.
package redis

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/lograte"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/store"
)

// Options configure a fleet meter.
type Options struct {
	Client   goredis.UniversalClient
	Local    *memory.Memory
	Entities []string // names, in the engine's order: keys use names, so nodes agree
	Prefix   string   // key prefix, default "lg:"
	Interval time.Duration
	// MaxPending bounds the records buffered while Redis is unreachable;
	// past it the oldest are dropped (and counted).
	MaxPending int
	// MaxViews bounds the fleet counts held locally (one per actor key,
	// entity and window; default 1M). Past it, views not refreshed in the
	// last flush are forgotten: such a key counts on local state until the
	// next flush refreshes it.
	MaxViews int
	Log      *slog.Logger
	// Near is the share of a budget's limit from which a key is metered
	// through Redis (default 0.8).
	Near float64
	// ID names this proxy in the fleet's member list (default random).
	ID string
}

// Limit is one budget's limit, for deciding when a key is near it.
type Limit struct {
	Kind   identity.Kind
	Ent    int
	Window int
	Limit  uint64
}

type limitKey struct {
	kind    identity.Kind
	ent, wi int
}

// Meter is an engine.Meter whose counts are the fleet's.
type Meter struct {
	o      Options
	local  *memory.Memory
	widths []int64
	names  []string // window names: "1h", "1d"
	shards [16]shard

	up       atomic.Bool
	dropped  atomic.Uint64
	flushed  atomic.Uint64
	failures atomic.Uint64
	// keyErrors counts commands Redis refused for their key alone
	// (keyError); badKeyLog says when to warn of them.
	keyErrors atomic.Int64
	badKeyLog lograte.Limiter
	lastFlush atomic.Int64
	pendingN  atomic.Int64

	// limits maps (kind, entity, window) to the lowest limit of a budget
	// there; set once before serving.
	limits atomic.Pointer[map[limitKey]uint64]
	// members is how many proxies flushed lately (at least 1): a key's
	// unflushed records elsewhere are bounded by members times this
	// proxy's.
	members atomic.Int64
	// kick asks Run for a flush now: another proxy found a key near.
	kick chan struct{}
	// throughs and consults count the round trips of keys near a budget.
	throughs, consults atomic.Uint64
	// seq numbers the near keys' reads in the order they are sent.
	seq atomic.Uint64
	// flushMu keeps one flush on the wire at a time (Run and State.Flush
	// both flush): the in-flight bookkeeping is for one batch.
	flushMu  sync.Mutex
	flushGen uint64

	// afterFlushWrite, if set (tests), runs once a flush's pipeline has
	// been answered, before its reply is applied: the window in which
	// Redis has this proxy's records and the views do not know it yet.
	afterFlushWrite func()
}

var _ engine.Meter = (*Meter)(nil)

// The engine reads requests and misses (the enumeration signal, rules on
// requests and misses) through this method, found by a type assertion: a
// meter without it silently leaves those signals at zero.
var _ interface {
	Traffic(now int64, k identity.Key, wi int) (req, miss uint64)
} = (*Meter)(nil)

type vkey struct {
	key identity.Key
	ent int
	wi  int
}

type view struct {
	remote uint64 // fleet-wide count at the last refresh
	// since is this node's records not yet known to be in remote: each is
	// added once when served and taken off once, by the reply of the one
	// write that carried it and read the count after it (a flush, or a
	// near key's exchange), so remote+since counts it exactly once.
	since uint64
	seen  int64 // last observed (unix ns), to expire the entry
	read  int64 // the admission (event time) this view was last read from Redis for
	// seq orders the exchanges' reads of a near key: a reply older than
	// the one applied may not lower remote.
	seq uint64
	// limit is the lowest limit the engine held the key to at admission
	// limitAt (Limiting): a busy address's is its people's, above the
	// written limit the key would otherwise be near.
	limit   uint64
	limitAt int64
	touched bool // in its shard's touched list
}

// viewsOf is k's views by entity*windows+window, made if mk (and nil
// otherwise when k has none). s.mu must be held.
func (m *Meter) viewsOf(s *shard, k identity.Key, mk bool) []*view {
	kv := s.views[k]
	if kv == nil && mk {
		kv = make([]*view, len(m.o.Entities)*len(m.widths))
		s.views[k] = kv
	}
	return kv
}

// viewOf is one view, nil if k has none there. s.mu must be held.
func (m *Meter) viewOf(s *shard, vk vkey) *view {
	kv := s.views[vk.key]
	if kv == nil || vk.ent < 0 || vk.ent >= len(m.o.Entities) || vk.wi < 0 || vk.wi >= len(m.widths) {
		return nil
	}
	return kv[vk.ent*len(m.widths)+vk.wi]
}

// viewIn is kv's view i, made (seen at now) if there is none. s.mu must
// be held.
func (s *shard) viewIn(kv []*view, i int, now int64) *view {
	if kv[i] == nil {
		kv[i] = &view{seen: now}
		s.nviews++
	}
	return kv[i]
}

// touch lists v for the next flush to read back, once. s.mu must be held.
func (s *shard) touch(vk vkey, v *view) {
	if !v.touched {
		v.touched = true
		s.touched = append(s.touched, touchedView{vk, v})
	}
}

type touchedView struct {
	vk vkey
	v  *view
}

type pend struct {
	key  identity.Key
	ent  int
	hash uint64
	at   int64
}

type shard struct {
	mu      sync.Mutex
	pending []pend
	// touched is the views served since the last flush (each marked
	// touched), which the flush reads back: a list and a mark, where a set
	// cost an insert per view on every request.
	touched []touchedView
	// views holds each key's views by entity*windows+window: a key's
	// views are read together (a request's every budget, its entities in
	// each window), and one lookup finds them all, where one lookup a view
	// keyed by key, entity and window was the fleet proxy's most common
	// cost. nviews counts them, for MaxViews.
	views  map[identity.Key][]*view
	nviews int
	// near holds keys found near a budget (here or by another proxy): they
	// are metered through Redis.
	near map[identity.Key]nearKey
	// inflight is the pending records a flush has sent and not yet had
	// answered (nil when none is on the wire). confirmed are the keys
	// whose records in it an exchange wrote again and took off since: the
	// flush's reply must not take them off twice, nor a failed flush put
	// them back.
	inflight    []pend
	inflightGen uint64
	confirmed   map[identity.Key]struct{}
}

type nearKey struct {
	until int64 // unix ns
	told  bool  // this proxy told the fleet
	// backlog: records of the key may wait in pending or in a flush on the
	// wire, served before it was near or while Redis was down. The next
	// exchange writes them with its own, so the count it reads has them.
	backlog bool
	// heard: another proxy found the key near. This one's view of it may
	// be a flush older than that proxy's (a proxy that serves a tenth of a
	// key's requests), so its view does not make it far again (far).
	heard bool
}

// New returns a fleet meter over a local one. Call Run to flush.
func New(o Options) *Meter {
	if o.Prefix == "" {
		o.Prefix = "lg:"
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 1 << 20
	}
	if o.MaxViews <= 0 {
		o.MaxViews = 1 << 20
	}
	if o.Near <= 0 || o.Near > 1 {
		o.Near = 0.8
	}
	if o.ID == "" {
		var b [8]byte
		rand.Read(b[:])
		o.ID = hex.EncodeToString(b[:])
	}
	m := &Meter{o: o, local: o.Local, kick: make(chan struct{}, 1)}
	m.members.Store(1)
	for wi, w := range o.Local.Windows() {
		m.widths = append(m.widths, int64(o.Local.Resolution(wi)))
		m.names = append(m.names, windowName(w))
	}
	for i := range m.shards {
		m.shards[i].views = map[identity.Key][]*view{}
		m.shards[i].near = map[identity.Key]nearKey{}
		m.shards[i].confirmed = map[identity.Key]struct{}{}
	}
	m.up.Store(true)
	return m
}

// SetLimits tells the meter the budgets in force, so it knows which keys
// are near one. Call it before serving.
func (m *Meter) SetLimits(ls []Limit) {
	t := map[limitKey]uint64{}
	for _, l := range ls {
		if l.Limit == 0 || l.Ent < 0 || l.Ent >= len(m.o.Entities) || l.Window < 0 || l.Window >= len(m.widths) {
			continue
		}
		lk := limitKey{l.Kind, l.Ent, l.Window}
		if have, ok := t[lk]; !ok || l.Limit < have {
			t[lk] = l.Limit
		}
	}
	m.limits.Store(&t)
}

func (m *Meter) limit(kind identity.Kind, ent, wi int) uint64 {
	if t := m.limits.Load(); t != nil {
		return (*t)[limitKey{kind, ent, wi}]
	}
	return 0
}

// nearView reports whether a view's key may be near its budget fleet-wide:
// the last fleet count plus what every proxy may have served since, at
// most members times what this one did (a proxy that serves a key more
// than its share finds it near first). s.mu must be held.
func (m *Meter) nearView(k identity.Key, ent, wi int, v *view, local uint64) bool {
	lim := m.limit(k.Kind, ent, wi)
	if lim == 0 {
		return false
	}
	lim = max(lim, v.limit)
	thr := uint64(float64(lim) * m.o.Near)
	return local >= thr || v.remote+uint64(m.members.Load())*v.since >= thr
}

// windowName is a window's part of the fleet's Redis key names. It is not
// human.Window ("1h" there, "1h0m0s" here): a running fleet's keys are
// named so, and renaming them would start every count from zero.
func windowName(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(w/(24*time.Hour)), 10) + "d"
	}
	return w.String()
}

func (m *Meter) shard(k identity.Key) *shard { return &m.shards[m.shardIndex(k)] }

func (m *Meter) shardIndex(k identity.Key) int { return int((k.Hash * 0x9e3779b97f4a7c15) >> 60) }

// Windows implements engine.Meter.
func (m *Meter) Windows() []time.Duration { return m.local.Windows() }

// Resolution implements engine.Meter.
func (m *Meter) Resolution(wi int) time.Duration { return m.local.Resolution(wi) }

// Up reports whether the last exchange with Redis succeeded.
func (m *Meter) Up() bool { return m.up.Load() }

// Observe implements engine.Meter: local counts, raised to the fleet's.
func (m *Meter) Observe(now int64, k identity.Key, recs []records.Found, miss bool, counts []uint64) uint64 {
	touched := m.local.Observe(now, k, recs, miss, counts)
	if touched == 0 {
		return 0
	}
	nw := len(m.widths)
	s := m.shard(k)
	s.mu.Lock()
	near := s.near[k].until > now
	for ent := 0; ent < len(m.o.Entities) && ent < 64; ent++ {
		if touched&(1<<ent) == 0 {
			continue
		}
		n := uint64(0)
		for _, r := range recs {
			if r.Entity == ent {
				n++
			}
		}
		kv := m.viewsOf(s, k, true)
		for wi := 0; wi < nw; wi++ {
			vk := vkey{k, ent, wi}
			v := s.viewIn(kv, ent*nw+wi, now)
			v.since += n
			v.seen = now
			s.touch(vk, v)
			local := counts[ent*nw+wi]
			if b := v.remote + v.since; b > counts[ent*nw+wi] {
				counts[ent*nw+wi] = b
			}
			if !near && m.nearView(k, ent, wi, v, local) {
				near = true
				s.near[k] = nearKey{until: m.nearUntil(now), backlog: true}
			}
		}
	}
	announce := false
	if near = near && m.up.Load(); near {
		if nk := s.near[k]; !nk.told {
			announce, nk.told = true, true
			s.near[k] = nk
		}
	}
	if !near {
		s.queue(k, recs, now)
	}
	s.mu.Unlock()
	if near && m.exchange(now, k, recs, nil, counts, announce) {
		m.throughs.Add(1)
		return touched
	}
	if near { // Redis failed: keep them for the next flush
		s.mu.Lock()
		s.queue(k, recs, now)
		s.mu.Unlock()
	}
	m.pendingN.Add(int64(len(recs)))
	return touched
}

// queue keeps records for the next flush. s.mu must be held.
func (s *shard) queue(k identity.Key, recs []records.Found, now int64) {
	for _, r := range recs {
		s.pending = append(s.pending, pend{key: k, ent: r.Entity, hash: r.Hash, at: now})
	}
	if nk, ok := s.near[k]; ok && !nk.backlog {
		nk.backlog = true
		s.near[k] = nk
	}
}

// nearUntil is how long a key stays metered through once near: as long as
// its records can count in the longest window.
func (m *Meter) nearUntil(now int64) int64 {
	ws := m.local.Windows()
	return now + int64(ws[len(ws)-1]) + m.widths[len(m.widths)-1]
}

// exchange writes a near key's records to Redis and reads back its fleet
// counts, in one round trip: the records this request was served (own),
// and, the first time after the key turned near or Redis came back, those
// of its backlog, so the count read has every record this proxy served
// (records in a flush on the wire are written again: PFADD is idempotent).
// It reads the counts of want and of every entity it wrote, raising counts
// if given, and tells the other proxies that the key is near if announce.
// It reports whether Redis answered.
func (m *Meter) exchange(now int64, k identity.Key, own []records.Found, want []vkey, counts []uint64, announce bool) bool {
	s := m.shard(k)
	var drained, copies []pend
	var gen uint64
	s.mu.Lock()
	if nk := s.near[k]; nk.backlog {
		kept := s.pending[:0]
		for _, p := range s.pending {
			if p.key == k {
				drained = append(drained, p)
			} else {
				kept = append(kept, p)
			}
		}
		clear(s.pending[len(kept):])
		s.pending = kept
		if _, done := s.confirmed[k]; s.inflight != nil && !done {
			gen = s.inflightGen
			for _, p := range s.inflight {
				if p.key == k {
					copies = append(copies, p)
				}
			}
		}
		nk.backlog = false
		s.near[k] = nk
	}
	seq := m.seq.Add(1)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), m.consultTimeout())
	defer cancel()
	pipe := m.o.Client.Pipeline()
	type bk struct {
		ent, wi int
		epoch   int64
	}
	elems := map[bk][]any{}
	var order []bk
	var ents uint64 // entities written: their counts are read
	add := func(ent int, hash uint64, at int64) {
		if ent < 0 || ent >= len(m.o.Entities) || ent >= 64 {
			return
		}
		ents |= 1 << ent
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], hash)
		for wi, width := range m.widths {
			g := bk{ent, wi, at / width}
			if _, ok := elems[g]; !ok {
				order = append(order, g)
			}
			elems[g] = append(elems[g], string(b[:]))
		}
	}
	for _, r := range own {
		add(r.Entity, r.Hash, now)
	}
	for _, p := range drained {
		add(p.ent, p.hash, p.at)
	}
	for _, p := range copies {
		add(p.ent, p.hash, p.at)
	}
	for _, g := range order {
		key := m.bucketKey(k, g.ent, g.wi, g.epoch)
		pipe.PFAdd(ctx, key, elems[g]...)
		pipe.PExpireAt(ctx, key, time.Unix(0, (g.epoch+memory.Buckets+2)*m.widths[g.wi]))
	}
	reads := want
	for ent := 0; ent < len(m.o.Entities) && ent < 64; ent++ {
		if ents&(1<<ent) == 0 {
			continue
		}
		for wi := range m.widths {
			if vk := (vkey{k, ent, wi}); !slices.Contains(want, vk) {
				reads = append(reads, vk)
			}
		}
	}
	cmds := make([]*goredis.IntCmd, len(reads))
	for i, vk := range reads {
		cmds[i] = pipe.PFCount(ctx, m.windowKeys(k, vk.ent, vk.wi, now)...)
	}
	if announce {
		pipe.Publish(ctx, m.nearChannel(), m.o.ID+" "+k.String())
	}
	if err := m.refused(pipe.Exec(ctx)); err != nil {
		m.markDown(err)
		if len(drained) > 0 || copies != nil {
			s.mu.Lock()
			s.pending = append(drained, s.pending...)
			nk := s.near[k]
			nk.backlog = true
			s.near[k] = nk
			s.mu.Unlock()
		}
		return false
	}
	m.pendingN.Add(-int64(len(drained)))
	nw := len(m.widths)
	// Records written here and counted in since, per entity: this
	// request's, its backlog's, and its copies of a flush's on the wire
	// unless that flush's reply took them off already.
	var done [64]uint64
	for _, r := range own {
		if r.Entity >= 0 && r.Entity < 64 {
			done[r.Entity]++
		}
	}
	for _, p := range drained {
		if p.ent >= 0 && p.ent < 64 {
			done[p.ent]++
		}
	}
	s.mu.Lock()
	if _, already := s.confirmed[k]; len(copies) > 0 && s.inflight != nil && s.inflightGen == gen && !already {
		s.confirmed[k] = struct{}{}
		for _, p := range copies {
			if p.ent >= 0 && p.ent < 64 {
				done[p.ent]++
			}
		}
	}
	for ent := 0; ent < len(m.o.Entities) && ent < 64; ent++ {
		if done[ent] == 0 {
			continue
		}
		for wi := 0; wi < nw; wi++ {
			if v := m.viewOf(s, vkey{k, ent, wi}); v != nil {
				v.since -= min(v.since, done[ent])
			}
		}
	}
	for i, vk := range reads {
		v := s.viewIn(m.viewsOf(s, vk.key, true), vk.ent*nw+vk.wi, now)
		r := uint64(cmds[i].Val())
		if seq > v.seq {
			v.remote, v.seq = r, seq
		} else {
			v.remote = max(v.remote, r) // a later read answered first
		}
		if counts != nil && vk.ent*nw+vk.wi < len(counts) {
			if b := v.remote + v.since; b > counts[vk.ent*nw+vk.wi] {
				counts[vk.ent*nw+vk.wi] = b
			}
		}
	}
	s.mu.Unlock()
	return true
}

// Limiting implements the engine's limitsMeter: the lowest of the limits
// an admission holds k's records of ent in window wi to.
func (m *Meter) Limiting(now int64, k identity.Key, ent, wi int, limit uint64) {
	if ent < 0 || ent >= len(m.o.Entities) || wi < 0 || wi >= len(m.widths) {
		return
	}
	s := m.shard(k)
	s.mu.Lock()
	if v := m.viewOf(s, vkey{k, ent, wi}); v != nil && (v.limitAt != now || limit < v.limit) {
		v.limit, v.limitAt = limit, now
	}
	s.mu.Unlock()
}

// far reports whether none of a near key's views is near its limit any
// more, now that the engine has said what it holds the key to: a busy
// address whose people's limit is far above its written one. Its records
// go by the flush again, and its requests no longer wait on Redis. s.mu
// must be held.
func (m *Meter) far(s *shard, k identity.Key) bool {
	kv := s.views[k]
	for ent := range m.o.Entities {
		for wi := range m.widths {
			var v *view
			if kv != nil {
				v = kv[ent*len(m.widths)+wi]
			}
			if v == nil || m.limit(k.Kind, ent, wi) == 0 {
				continue // no budget holds the key there
			}
			if v.limit == 0 || m.nearView(k, ent, wi, v, 0) {
				return false
			}
		}
	}
	return true
}

// consult reads a near key's fleet count before a request is admitted:
// once per admission (the engine asks every budget of a key with the same
// now), one round trip for all its entities and windows.
func (m *Meter) consult(now int64, k identity.Key) {
	if !m.up.Load() {
		return
	}
	s := m.shard(k)
	s.mu.Lock()
	if s.near[k].until <= now {
		s.mu.Unlock()
		return
	}
	if !s.near[k].heard && m.far(s, k) {
		delete(s.near, k)
		s.mu.Unlock()
		return
	}
	var vks []vkey
	kv := m.viewsOf(s, k, true)
	for ent := range m.o.Entities {
		for wi := range m.widths {
			if m.limit(k.Kind, ent, wi) == 0 {
				continue
			}
			vk := vkey{k, ent, wi}
			v := s.viewIn(kv, ent*len(m.widths)+wi, now)
			if v.read != now {
				v.read = now
				vks = append(vks, vk)
			}
		}
	}
	s.mu.Unlock()
	if len(vks) == 0 {
		return
	}
	if m.exchange(now, k, nil, vks, nil, false) {
		m.consults.Add(1)
	}
}

// consultTimeout bounds a round trip on the request path: past it the
// request goes on with the view it has, and Redis is marked down.
func (m *Meter) consultTimeout() time.Duration { return 500 * time.Millisecond }

// windowKeys are the live buckets of one key's entity in window wi.
func (m *Meter) windowKeys(k identity.Key, ent, wi int, now int64) []string {
	cur := now / m.widths[wi]
	// One string holds them all, each key a piece of it: a flush reads
	// every touched view, tens of thousands of them.
	base := m.bucketBase(k, ent, wi)
	var num [20]byte
	var all strings.Builder
	all.Grow((memory.Buckets + 1) * (len(base) + len(strconv.AppendInt(num[:0], cur, 10))))
	var ends [memory.Buckets + 1]int
	for i := range ends {
		all.Write(base)
		all.Write(strconv.AppendInt(num[:0], cur-memory.Buckets+int64(i), 10))
		ends[i] = all.Len()
	}
	one := all.String()
	keys := make([]string, len(ends))
	from := 0
	for i, end := range ends {
		keys[i], from = one[from:end], end
	}
	return keys
}

func (m *Meter) nearChannel() string { return m.o.Prefix + "near" }

func (m *Meter) membersKey() string { return m.o.Prefix + "members" }

// heardNear marks a key another proxy found near, and asks for a flush:
// records of it this proxy holds must reach Redis before that proxy's
// next count.
func (m *Meter) heardNear(k identity.Key, now int64) {
	s := m.shard(k)
	s.mu.Lock()
	nk, ok := s.near[k]
	// Bounded like the views: past it, a key counts on the flushed view.
	if ok || len(s.near) < m.o.MaxViews/len(m.shards) {
		nk.until = m.nearUntil(now)
		nk.backlog, nk.heard = true, true
		s.near[k] = nk
	}
	s.mu.Unlock()
	m.flushSoon()
}

func (m *Meter) flushSoon() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Meter) fleet(k identity.Key, ent, wi int) uint64 {
	s := m.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := m.viewOf(s, vkey{k, ent, wi}); v != nil {
		return v.remote + v.since
	}
	return 0
}

// Traffic returns k's requests and misses in window wi as this proxy saw
// them. They are not shared, to keep Redis off every request: the miss
// ratio is the same on each proxy a balancer spreads a client over, and
// only the request threshold is reached n times later across n proxies.
func (m *Meter) Traffic(now int64, k identity.Key, wi int) (req, miss uint64) {
	return m.local.Traffic(now, k, wi)
}

// Bound implements engine.Meter. For a key near a budget it reads the
// fleet's count first.
func (m *Meter) Bound(now int64, k identity.Key, ent, wi int) uint64 {
	m.consult(now, k)
	return max(m.local.Bound(now, k, ent, wi), m.fleet(k, ent, wi))
}

// Bounds answers Bound for every bit i of want (entity i/windows, window
// i%windows) at once, as the engine asks for all of a key's budgets: one
// read of a near key's fleet count, the local bounds in one call, the
// views under one lock. Asked one by one, each took the shard's lock
// twice (a tenth of the fleet proxy's CPU under 20,000 people).
func (m *Meter) Bounds(now int64, k identity.Key, want uint64, dst []uint64) {
	m.consult(now, k)
	m.local.Bounds(now, k, want, dst)
	s := m.shard(k)
	s.mu.Lock()
	kv := s.views[k]
	for ; want != 0; want &= want - 1 {
		// kv is laid out as the bits are: entity*windows+window
		if i := bits.TrailingZeros64(want); i < len(kv) && kv[i] != nil {
			dst[i] = max(dst[i], kv[i].remote+kv[i].since)
		}
	}
	s.mu.Unlock()
}

// Count implements engine.Meter.
func (m *Meter) Count(now int64, k identity.Key, ent, wi int) uint64 {
	return max(m.local.Count(now, k, ent, wi), m.fleet(k, ent, wi))
}

// bucketKey is one time bucket of one actor key's records of one entity in
// one window. The {...} hash tag keeps an actor key's buckets on one slot.
func (m *Meter) bucketKey(k identity.Key, ent, wi int, epoch int64) string {
	return string(strconv.AppendInt(m.bucketBase(k, ent, wi), epoch, 10))
}

// bucketBase is bucketKey without its epoch: "<prefix>{<key>}:<entity>:<window>:".
// Built by appending, not formatting: a key near a budget reads 13 buckets
// of every entity and window before each of its requests, and fmt.Sprintf
// took 28% of the fleet proxy's CPU under 20,000 people (bench/state.sh 15
// 64 default, 2026-12-05).
func (m *Meter) bucketBase(k identity.Key, ent, wi int) []byte {
	b := make([]byte, 0, len(m.o.Prefix)+len(m.o.Entities[ent])+len(m.names[wi])+48)
	b = append(b, m.o.Prefix...)
	b = append(b, '{')
	b = k.Append(b)
	b = append(b, "}:"...)
	b = append(b, m.o.Entities[ent]...)
	b = append(b, ':')
	b = append(b, m.names[wi]...)
	return append(b, ':')
}

// flushCmds bounds a flush's pipelines: each is written and answered
// within the client's timeouts however many records the flush carries.
const flushCmds = 2048

// Flush sends buffered records and refreshes the view of every actor key
// seen since the last flush.
func (m *Meter) Flush(ctx context.Context, now int64) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	var snaps []vkey
	var taken [16][]pend
	m.flushGen++
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		taken[i], s.pending = s.pending, nil
		s.inflight, s.inflightGen = taken[i], m.flushGen
		clear(s.confirmed)
		for _, t := range s.touched {
			snaps = append(snaps, t.vk)
			t.v.touched = false
		}
		clear(s.touched)
		s.touched = s.touched[:0]
		s.mu.Unlock()
	}
	// Each shard's records in runs, one per key and entity, in time order:
	// a run's records of one bucket of a window are then next to each
	// other, and a bucket is one PFADD. (Grouped in maps keyed by key,
	// entity, window and bucket, a flush took a fifth of the fleet proxy's
	// CPU under 20,000 people, most of it hashing those keys.) taken keeps
	// its order, for requeue; exchanges read it as inflight meanwhile.
	var runs [16][][]pend
	for i, ps := range taken {
		sorted := slices.Clone(ps)
		slices.SortFunc(sorted, func(a, b pend) int {
			switch {
			case a.key.Hash != b.key.Hash:
				return cmp.Compare(a.key.Hash, b.key.Hash)
			case a.key.Kind != b.key.Kind:
				return cmp.Compare(a.key.Kind, b.key.Kind)
			case a.ent != b.ent:
				return cmp.Compare(a.ent, b.ent)
			}
			return cmp.Compare(a.at, b.at)
		})
		for len(sorted) > 0 {
			n := 1
			for n < len(sorted) && sorted[n].key == sorted[0].key && sorted[n].ent == sorted[0].ent {
				n++
			}
			runs[i] = append(runs[i], sorted[:n])
			sorted = sorted[n:]
		}
	}
	// Sent in pipelines of flushCmds commands, one after the other, the
	// counts after every write: in one pipeline, a busy proxy's flush did
	// not fit in the client's 1 s write timeout while Redis shared its
	// cores, and every flush after it, larger by the records it carried
	// back, failed too: the fleet counted on local state for good (20,000
	// people, bench/state.sh 15 64 default, 2026-12-05).
	pipe := m.o.Client.Pipeline()
	var err error
	send := func() {
		if err == nil && pipe.Len() >= flushCmds {
			err = m.refused(pipe.Exec(ctx))
		}
	}
	for _, rs := range runs {
		for _, r := range rs {
			k, ent := r[0].key, r[0].ent
			if ent < 0 || ent >= len(m.o.Entities) {
				continue
			}
			hashes := make([]any, len(r)) // each record once, for every window
			for i, p := range r {
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], p.hash)
				hashes[i] = string(b[:])
			}
			for wi, width := range m.widths {
				base := m.bucketBase(k, ent, wi) // each bucket's key is it and the epoch
				for i := 0; i < len(r); {
					epoch := r[i].at / width
					j := i + 1
					for j < len(r) && r[j].at/width == epoch {
						j++
					}
					key := string(strconv.AppendInt(base, epoch, 10))
					pipe.PFAdd(ctx, key, hashes[i:j]...)
					// A bucket matters until it leaves the window: Buckets+1 widths.
					pipe.PExpireAt(ctx, key, time.Unix(0, (epoch+memory.Buckets+2)*width))
					send()
					i = j
				}
			}
		}
	}
	counts := make([]*goredis.IntCmd, len(snaps))
	for i, vk := range snaps {
		counts[i] = pipe.PFCount(ctx, m.windowKeys(vk.key, vk.ent, vk.wi, now)...)
		send()
	}
	// Every flush says this proxy is alive and learns how many are.
	wall := time.Now()
	pipe.ZAdd(ctx, m.membersKey(), goredis.Z{Score: float64(wall.UnixMilli()), Member: m.o.ID})
	pipe.ZRemRangeByScore(ctx, m.membersKey(), "-inf", strconv.FormatInt(wall.Add(-m.memberTTL()).UnixMilli(), 10))
	pipe.PExpire(ctx, m.membersKey(), m.memberTTL())
	members := pipe.ZCard(ctx, m.membersKey())
	if err == nil {
		err = m.refused(pipe.Exec(ctx))
	}
	if err != nil {
		m.requeue(taken)
		m.markDown(err)
		return err
	}
	if m.afterFlushWrite != nil {
		m.afterFlushWrite()
	}
	m.members.Store(max(members.Val(), 1))
	var n int64
	for _, ps := range taken {
		n += int64(len(ps))
	}
	m.pendingN.Add(-n)
	m.flushed.Add(uint64(n))
	// Each view's count and since change together, under its shard's lock:
	// a near key read in between sees neither or both.
	var bySnap [16][]int
	for i, vk := range snaps {
		j := m.shardIndex(vk.key)
		bySnap[j] = append(bySnap[j], i)
	}
	for j := range m.shards {
		s := &m.shards[j]
		s.mu.Lock()
		// What each view's since loses once this flush is answered: the
		// records it carries, not a snapshot of since, which also holds
		// records a near key's exchange has on the wire and takes off itself.
		for _, r := range runs[j] {
			if _, done := s.confirmed[r[0].key]; done {
				continue
			}
			kv, ent := s.views[r[0].key], r[0].ent
			if kv == nil || ent < 0 || ent >= len(m.o.Entities) {
				continue
			}
			for _, v := range kv[ent*len(m.widths) : (ent+1)*len(m.widths)] {
				if v != nil {
					v.since -= min(v.since, uint64(len(r)))
				}
			}
		}
		for _, i := range bySnap[j] {
			vk := snaps[i]
			v := m.viewOf(s, vk)
			if v == nil {
				continue
			}
			if counts[i].Err() != nil {
				continue // a key of the window refused (keyError): the last count stands
			}
			r := uint64(counts[i].Val())
			if s.near[vk.key].until > now {
				// Its exchanges read it since this flush was sent; this
				// count may be older than theirs.
				v.remote = max(v.remote, r)
			} else {
				v.remote = r
			}
			if s.near[vk.key].until <= now && m.nearView(vk.key, vk.ent, vk.wi, v, 0) {
				s.near[vk.key] = nearKey{until: m.nearUntil(now), backlog: true}
			}
		}
		s.inflight = nil
		clear(s.confirmed)
		s.mu.Unlock()
	}
	m.expireViews(now)
	m.lastFlush.Store(time.Now().UnixNano())
	m.markUp(n)
	return nil
}

// memberTTL is how long a proxy counts as a member after its last flush:
// a few intervals, so one slow flush does not shrink the fleet.
func (m *Meter) memberTTL() time.Duration { return 3*m.o.Interval + 5*time.Second }

// Join adds this proxy to the fleet's member list and tells the running
// proxies, which count the fleet again at once: until they do, each takes
// the fleet for smaller than it is and finds keys near a budget later.
func (m *Meter) Join(ctx context.Context) error {
	wall := time.Now()
	pipe := m.o.Client.Pipeline()
	pipe.ZAdd(ctx, m.membersKey(), goredis.Z{Score: float64(wall.UnixMilli()), Member: m.o.ID})
	pipe.ZRemRangeByScore(ctx, m.membersKey(), "-inf", strconv.FormatInt(wall.Add(-m.memberTTL()).UnixMilli(), 10))
	pipe.PExpire(ctx, m.membersKey(), m.memberTTL())
	members := pipe.ZCard(ctx, m.membersKey())
	pipe.Publish(ctx, m.nearChannel(), m.o.ID+" join")
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	m.members.Store(max(members.Val(), 1))
	return nil
}

// Members returns how many proxies flushed to the fleet lately.
func (m *Meter) Members() int { return int(m.members.Load()) }

// requeue puts records back after a failed flush, dropping the oldest
// beyond MaxPending.
func (m *Meter) requeue(taken [16][]pend) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		back := taken[i]
		if len(s.confirmed) > 0 {
			// An exchange wrote these again and took them off since: they
			// are in Redis.
			back = slices.DeleteFunc(back, func(p pend) bool {
				_, done := s.confirmed[p.key]
				if done {
					m.pendingN.Add(-1)
				}
				return done
			})
		}
		s.inflight = nil
		clear(s.confirmed)
		for _, p := range back {
			if nk, ok := s.near[p.key]; ok && !nk.backlog {
				nk.backlog = true
				s.near[p.key] = nk
			}
		}
		s.pending = append(back, s.pending...)
		limit := m.o.MaxPending / len(m.shards)
		if over := len(s.pending) - limit; over > 0 {
			s.pending = s.pending[over:]
			m.dropped.Add(uint64(over))
			m.pendingN.Add(-int64(over))
		}
		// The views of these keys must be refreshed once Redis is back.
		for _, p := range s.pending {
			for wi := range m.widths {
				vk := vkey{p.key, p.ent, wi}
				if v := m.viewOf(s, vk); v != nil {
					s.touch(vk, v)
				}
			}
		}
		s.mu.Unlock()
	}
}

// keyError reports whether Redis refused a command for its key alone: a
// key of the fleet's that holds something other than a HyperLogLog
// (WRONGTYPE), or a corrupted one (INVALIDOBJ). Anything else, a network
// error or a server that cannot serve (LOADING, READONLY, OOM, ...), is
// Redis down.
func keyError(err error) bool {
	var re goredis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "WRONGTYPE ") || strings.HasPrefix(msg, "INVALIDOBJ ")
}

// refused is the error of a pipeline's Exec that makes Redis down: nil
// when every command that failed was refused for its key alone, which
// are counted and logged at most once a minute. One bad key had the
// fleet taken for down, with every record request answered 503 under
// state.fail: closed, until the key expired (found by a probe,
// 2026-12-05: TestABadKeyDoesNotTakeTheFleetDown).
func (m *Meter) refused(cmds []goredis.Cmder, err error) error {
	if err == nil {
		return nil
	}
	var bad int64
	var first error
	for _, c := range cmds {
		switch e := c.Err(); {
		case e == nil:
		case keyError(e):
			bad++
			if first == nil {
				first = e
				if args := c.Args(); len(args) > 1 {
					first = fmt.Errorf("%v: %w", args[1], e)
				}
			}
		default:
			return e
		}
	}
	if bad == 0 {
		return err
	}
	m.keyErrors.Add(bad)
	if ok, _ := m.badKeyLog.Allow(time.Now()); ok && m.o.Log != nil {
		m.o.Log.Warn("state: redis refused commands on keys of the fleet's that hold something else; their records are dropped until the keys expire with their bucket", "commands", bad, "first", first)
	}
	return nil
}

func (m *Meter) markDown(err error) {
	m.failures.Add(1)
	if m.up.Swap(false) && m.o.Log != nil {
		m.o.Log.Error("state: redis unreachable; counting on this proxy's local state until it is back", "err", err)
	}
}

func (m *Meter) markUp(n int64) {
	if !m.up.Swap(true) && m.o.Log != nil {
		m.o.Log.Info("state: redis reachable again; buffered records resynchronised", "records", n, "dropped_while_down", m.dropped.Load())
	}
}

// expireViews forgets views of keys not seen for the longest window, and
// keeps the views under MaxViews so a flood of fresh keys cannot grow them.
func (m *Meter) expireViews(now int64) {
	ws := m.local.Windows()
	horizon := now - int64(ws[len(ws)-1]) - m.widths[len(m.widths)-1]
	limit := m.o.MaxViews / len(m.shards)
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		over := s.nviews - limit
		for k, nk := range s.near {
			if nk.until <= now {
				delete(s.near, k)
			}
		}
		for k, kv := range s.views {
			left := 0
			for j, v := range kv {
				switch {
				case v == nil:
					continue
				case v.seen < horizon, over > 0 && v.since == 0 && !v.touched:
					kv[j] = nil
					s.nviews--
					over--
				default:
					left++
				}
			}
			if left == 0 {
				delete(s.views, k)
			}
		}
		s.mu.Unlock()
	}
}

// Views returns the number of fleet counts held locally.
func (m *Meter) Views() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.nviews
		s.mu.Unlock()
	}
	return n
}

// Stats are the fleet meter's counters, for metrics.
type Stats struct {
	Up                         bool
	Flushed, Dropped, Failures uint64
	// KeyErrors are commands refused for their key alone (keyError).
	KeyErrors uint64
	Pending   int64
	LastFlush time.Time
	// Members is the proxies in the fleet; Throughs and Consults the round
	// trips of keys near a budget (records written through, counts read
	// before admitting).
	Members            int
	Throughs, Consults uint64
}

// Stats returns the counters.
func (m *Meter) Stats() Stats {
	return Stats{Up: m.up.Load(), Flushed: m.flushed.Load(), Dropped: m.dropped.Load(), Failures: m.failures.Load(), KeyErrors: uint64(m.keyErrors.Load()),
		Pending: m.pendingN.Load(), LastFlush: time.Unix(0, m.lastFlush.Load()),
		Members: m.Members(), Throughs: m.throughs.Load(), Consults: m.consults.Load()}
}

// Run flushes every Interval until ctx is done, with a final flush, and
// at once when another proxy finds a key near a budget.
func (m *Meter) Run(ctx context.Context, now func() time.Time) {
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	sub := m.o.Client.Subscribe(ctx, m.nearChannel())
	defer sub.Close()
	heard := messages(ctx, sub, m.o.Log)
	for {
		select {
		case msg, ok := <-heard:
			if !ok {
				heard = nil
				continue
			}
			from, ks, _ := strings.Cut(msg.Payload, " ")
			if from == m.o.ID {
				continue
			}
			if ks == "join" {
				m.flushSoon()
			} else if k, err := identity.ParseKey(ks); err == nil {
				m.heardNear(k, now().UnixNano())
			}
		case <-m.kick:
			fctx, cancel := context.WithTimeout(ctx, m.o.Interval*4+time.Second)
			m.Flush(fctx, now().UnixNano())
			cancel()
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			m.Flush(fctx, now().UnixNano())
			cancel()
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, m.o.Interval*4+time.Second)
			m.Flush(fctx, now().UnixNano())
			cancel()
		}
	}
}

// SecretKey is where a fleet keeps the fingerprint of its hashing secret.
func SecretKey(prefix string) string {
	if prefix == "" {
		prefix = "lg:"
	}
	return prefix + "secret-fingerprint"
}

// LearntKey is the hash where a fleet keeps the limits its proxies'
// calibration learnt (budget id → limit): the last proxy to learn writes
// them, and a proxy that starts begins from them.
func LearntKey(prefix string) string {
	if prefix == "" {
		prefix = "lg:"
	}
	return prefix + "learnt"
}

// prefixOf is s's first n bytes, or s.
func prefixOf(s string, n int) string { return s[:min(n, len(s))] }

// ErrSecretMismatch is returned by CheckSecret when a proxy's hashing
// secret is not the fleet's.
var ErrSecretMismatch = errors.New("hashing secret differs from the fleet's")

// CheckSecret makes sure every proxy of a fleet hashes with one secret:
// with two, the same client is two unrelated actors and each proxy counts
// its own share against the budget. The first proxy stores fingerprint (a
// keyed MAC, never the secret); later ones must match it.
func CheckSecret(ctx context.Context, c goredis.UniversalClient, prefix, fingerprint string) error {
	key := SecretKey(prefix)
	set, err := c.SetNX(ctx, key, fingerprint, 0).Result()
	if err != nil || set {
		return err
	}
	have, err := c.Get(ctx, key).Result()
	if err != nil {
		return err
	}
	if have != fingerprint {
		// %q: the key's value is whatever Redis holds, not always ours.
		return fmt.Errorf("%w: the fleet's fingerprint in redis key %s is %q…, this proxy's is %q…; "+
			"give every proxy the same secret (secret.env or secret.file), or, to change the fleet's secret, stop every proxy and delete that key",
			ErrSecretMismatch, key, prefixOf(have, 8), prefixOf(fingerprint, 8))
	}
	return nil
}

// Sanctions shares sanctions between the proxies of a fleet.
type Sanctions struct {
	Client goredis.UniversalClient
	Prefix string
	Log    *slog.Logger
	// OnAllow and OnDisallow, if set, receive allowlist entries other
	// proxies added or removed.
	OnAllow, OnDisallow func(netip.Prefix)
}

func (s *Sanctions) allowKey() string { return s.prefix() + "allow" }

// Allow adds an allowlist entry for the whole fleet: kept in a set for
// proxies that start later, and published to those running.
func (s *Sanctions) Allow(ctx context.Context, p netip.Prefix) error {
	return s.allowlist(ctx, p, true)
}

// Disallow removes a run-time allowlist entry from the whole fleet.
func (s *Sanctions) Disallow(ctx context.Context, p netip.Prefix) error {
	return s.allowlist(ctx, p, false)
}

func (s *Sanctions) allowlist(ctx context.Context, p netip.Prefix, add bool) error {
	v := p.Masked().String()
	pipe := s.Client.Pipeline()
	if add {
		pipe.SAdd(ctx, s.allowKey(), v)
		pipe.Publish(ctx, s.channel(), "allow "+v)
	} else {
		pipe.SRem(ctx, s.allowKey(), v)
		pipe.Publish(ctx, s.channel(), "disallow "+v)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Allows returns the fleet's run-time allowlist.
func (s *Sanctions) Allows(ctx context.Context) ([]netip.Prefix, error) {
	vs, err := s.Client.SMembers(ctx, s.allowKey()).Result()
	var out []netip.Prefix
	for _, v := range vs {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p)
		}
	}
	return out, err
}

func (s *Sanctions) channel() string { return s.prefix() + "sanctions" }

func (s *Sanctions) prefix() string {
	if s.Prefix == "" {
		return "lg:"
	}
	return s.Prefix
}

func encodeSanction(x engine.Sanction) string {
	return fmt.Sprintf("%s %s %d %s", x.Key, x.ActionName(), x.Until, x.Rule)
}

func decodeSanction(msg string) (x engine.Sanction, unblock bool, ok bool) {
	f := strings.SplitN(msg, " ", 4)
	if len(f) == 2 && f[0] == "unblock" {
		k, err := identity.ParseKey(f[1])
		return engine.Sanction{Key: k}, true, err == nil
	}
	if len(f) != 4 {
		return x, false, false
	}
	k, err := identity.ParseKey(f[0])
	if err != nil {
		return x, false, false
	}
	a, shadow, err1 := engine.ParseSanctionAction(f[1])
	u, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return x, false, false
	}
	return engine.Sanction{Key: k, Action: a, Until: u, Rule: f[3], Shadow: shadow}, false, true
}

// Publish shares a sanction this proxy installed.
func (s *Sanctions) Publish(ctx context.Context, x engine.Sanction) error {
	msg := encodeSanction(x)
	pipe := s.Client.Pipeline()
	pipe.Set(ctx, fmt.Sprintf("%s{%s}:sanction:%s", s.prefix(), x.Key, x.Rule), msg, 0)
	pipe.PExpireAt(ctx, fmt.Sprintf("%s{%s}:sanction:%s", s.prefix(), x.Key, x.Rule), time.Unix(0, x.Until))
	pipe.Publish(ctx, s.channel(), msg)
	_, err := pipe.Exec(ctx)
	return err
}

// scan calls fn for every key matching pattern, on every primary of a
// cluster (SCAN only covers the node it is sent to), until fn says stop.
func scan(ctx context.Context, c goredis.UniversalClient, pattern string, fn func(c goredis.Cmdable, key string) bool) error {
	one := func(ctx context.Context, c *goredis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			if !fn(c, iter.Val()) {
				break
			}
		}
		return iter.Err()
	}
	switch cc := c.(type) {
	case *goredis.ClusterClient:
		var mu sync.Mutex
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			// fn is not safe for concurrent use; ForEachMaster runs nodes in parallel.
			mu.Lock()
			defer mu.Unlock()
			return one(ctx, c)
		})
	case *goredis.Client:
		return one(ctx, cc)
	}
	return fmt.Errorf("unsupported redis client %T", c)
}

// Unblock lifts a key's sanctions on every proxy.
func (s *Sanctions) Unblock(ctx context.Context, k identity.Key) error {
	// The key's sanctions share its hash tag: one slot, one node.
	var keys []string
	err := scan(ctx, s.Client, fmt.Sprintf("%s{%s}:sanction:*", s.prefix(), k), func(_ goredis.Cmdable, key string) bool {
		keys = append(keys, key)
		return true
	})
	if err != nil {
		return err
	}
	pipe := s.Client.Pipeline()
	if len(keys) > 0 {
		pipe.Del(ctx, keys...)
	}
	pipe.Publish(ctx, s.channel(), "unblock "+k.String())
	_, err = pipe.Exec(ctx)
	return err
}

// Load calls impose for every stored sanction (for a proxy that starts
// after they were decided). It scans at most max keys.
func (s *Sanctions) Load(ctx context.Context, max int, impose func(engine.Sanction)) (int, error) {
	n := 0
	err := scan(ctx, s.Client, s.prefix()+"{*}:sanction:*", func(c goredis.Cmdable, key string) bool {
		if v, err := c.Get(ctx, key).Result(); err == nil {
			if x, unblock, ok := decodeSanction(v); ok && !unblock {
				impose(x)
				n++
			}
		}
		return n < max
	})
	return n, err
}

// subscription is what messages needs of a *goredis.PubSub.
type subscription interface {
	ReceiveTimeout(ctx context.Context, timeout time.Duration) (any, error)
	Ping(ctx context.Context, payload ...string) error
}

// messages delivers sub's messages, as sub.Channel() does, but reads them
// on a goroutine of ours: go-redis panics on a reply of the wrong shape (a
// nested array where a channel's name should be), and on its own
// goroutine that panic took the proxy down (found by a probe, 2026-12-05:
// TestAMalformedMessageDoesNotTakeTheProxyDown). Such a reply is logged
// and skipped. As sub.Channel() does, a minute's silence sends a PING, and
// a PING that cannot be written makes go-redis reconnect; an error waits a
// second before the next read, so that a Redis down is not a busy loop.
// The channel closes when ctx is done and the caller closes sub.
func messages(ctx context.Context, sub subscription, log *slog.Logger) <-chan *goredis.Message {
	ch := make(chan *goredis.Message)
	go func() {
		defer close(ch)
		for ctx.Err() == nil {
			v, err := receive(ctx, sub)
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				sub.Ping(ctx)
				continue
			case err != nil:
				if errors.Is(err, errMalformed) && log != nil {
					log.Warn("state: ignored a malformed message from redis", "err", err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			if msg, ok := v.(*goredis.Message); ok {
				select {
				case ch <- msg:
				case <-ctx.Done():
				}
			}
		}
	}()
	return ch
}

var errMalformed = errors.New("malformed reply")

func receive(ctx context.Context, sub subscription) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: %v", errMalformed, r)
		}
	}()
	return sub.ReceiveTimeout(ctx, time.Minute)
}

// Subscribe applies other proxies' sanctions and unblocks until ctx is
// done. go-redis re-subscribes by itself after a lost connection.
func (s *Sanctions) Subscribe(ctx context.Context, impose func(engine.Sanction), unblock func(identity.Key)) {
	sub := s.Client.Subscribe(ctx, s.channel())
	defer sub.Close()
	ch := messages(ctx, sub, s.Log)
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if v, ok := strings.CutPrefix(msg.Payload, "allow "); ok {
				if p, err := netip.ParsePrefix(v); err == nil && s.OnAllow != nil {
					s.OnAllow(p)
				}
				continue
			}
			if v, ok := strings.CutPrefix(msg.Payload, "disallow "); ok {
				if p, err := netip.ParsePrefix(v); err == nil && s.OnDisallow != nil {
					s.OnDisallow(p)
				}
				continue
			}
			x, isUnblock, valid := decodeSanction(msg.Payload)
			switch {
			case !valid:
				if s.Log != nil {
					s.Log.Warn("state: ignored a malformed sanction message")
				}
			case isUnblock:
				unblock(x.Key)
			default:
				impose(x)
			}
		}
	}
}

// Canaries is the canary registry of a fleet: who received which canary,
// as hashes, in 4,096 hash keys spread over a cluster's slots, by the top
// 12 bits of the canary's hash. Past Max receipts it is thinned as
// state.db is (store.KeepsCanary): each level drops the upper half of the
// hash keys still kept. Its size and level are kept beside it, for every
// proxy of the fleet.
type Canaries struct {
	Client goredis.UniversalClient
	Prefix string
	Max    int // default store.DefaultMaxCanaries

	level   atomic.Int64 // the fleet's level as last read
	counted atomic.Bool  // the size key is known to exist
}

func (c *Canaries) prefix() string {
	if c.Prefix == "" {
		return "lg:"
	}
	return c.Prefix
}

func (c *Canaries) key(h uint64) string { return c.slot(int(h >> 52)) }

func (c *Canaries) slot(i int) string { return fmt.Sprintf("%scanaries:%03x", c.prefix(), i) }

func (c *Canaries) sizeKey() string  { return c.prefix() + "canaries-n" }
func (c *Canaries) levelKey() string { return c.prefix() + "canaries-level" }

// raiseLevel sets the fleet's level to at least ARGV[1] and returns it: two
// proxies thinning at once must not lower it.
var raiseLevel = goredis.NewScript(`
local have = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if want > have then redis.call('SET', KEYS[1], want) return want end
return have`)

// Level is how far the fleet's registry is thinned (see store.KeepsCanary),
// as this proxy last read it.
func (c *Canaries) Level() int { return int(c.level.Load()) }

func canaryField(k records.Kind, h uint64) string { return fmt.Sprintf("%d:%016x", k, h) }

// Issue stores issued canaries in one pipeline.
func (c *Canaries) Issue(ctx context.Context, xs []canary.Issued) error {
	if len(xs) == 0 {
		return nil
	}
	if !c.counted.Load() {
		if err := c.count(ctx, false); err != nil {
			return err
		}
	}
	level := c.Level()
	pipe := c.Client.Pipeline()
	levelCmd := pipe.Get(ctx, c.levelKey())
	var added []*goredis.IntCmd
	// In pipelines of flushCmds, as the meter's flush: a proxy serving
	// decoys under a flood issues more canaries an interval than one
	// pipeline writes within the client's timeout, and the ones kept for
	// the next try make the next larger.
	var err error
	send := func(force bool) {
		if err == nil && (force || pipe.Len() >= flushCmds) {
			if _, err = pipe.Exec(ctx); errors.Is(err, goredis.Nil) {
				err = nil // the level's key before any thinning
			}
		}
	}
	for _, x := range xs {
		if !store.KeepsCanary(level, x.Hash) {
			continue
		}
		v := strconv.FormatInt(x.At, 10)
		for _, k := range x.Actor.Keys {
			if k.Hash != 0 {
				v += " " + k.String()
			}
		}
		added = append(added, pipe.HSet(ctx, c.key(x.Hash), canaryField(x.Kind, x.Hash), v))
		send(false)
	}
	send(true)
	// The fields new to the registry, of the pipelines that were written
	// (on a retry, those are not new).
	var n int64
	for _, a := range added {
		if a.Err() == nil {
			n += a.Val()
		}
	}
	if err != nil {
		if n > 0 {
			c.Client.IncrBy(ctx, c.sizeKey(), n)
		}
		return err
	}
	size, err := c.Client.IncrBy(ctx, c.sizeKey(), n).Result()
	if err != nil {
		return err
	}
	fleet, _ := strconv.Atoi(levelCmd.Val())
	if fleet > level {
		// Another proxy thinned the registry while these were written
		// under the level this one knew: drop what the fleet's level does not keep.
		return c.thin(ctx, fleet)
	}
	if int(size) > c.max() && level < store.MaxCanaryLevel {
		return c.thin(ctx, level+1)
	}
	return nil
}

func (c *Canaries) max() int {
	if c.Max <= 0 {
		return store.DefaultMaxCanaries
	}
	return c.Max
}

// thin takes the fleet's registry to at least level, then deeper while it
// holds more than Max: the hash keys a level does not keep are deleted
// whole, and the rest counted again.
func (c *Canaries) thin(ctx context.Context, level int) error {
	for {
		l, err := raiseLevel.Run(ctx, c.Client, []string{c.levelKey()}, level).Int()
		if err != nil {
			return err
		}
		c.level.Store(int64(l))
		pipe := c.Client.Pipeline()
		for i := 4096 >> l; i < 4096; i++ {
			pipe.Del(ctx, c.slot(i))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		if err := c.count(ctx, true); err != nil {
			return err
		}
		size, err := c.Client.Get(ctx, c.sizeKey()).Int()
		if err != nil || size <= c.max() || l >= store.MaxCanaryLevel {
			return err
		}
		level = l + 1
	}
}

// count sets the registry's size to the fields in its hash keys: after a
// thinning, and once for a registry written before its size was kept
// (unless force, only if the size key is missing).
func (c *Canaries) count(ctx context.Context, force bool) error {
	if !force {
		lv, err := c.Client.Get(ctx, c.levelKey()).Int()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		c.level.Store(int64(lv))
		if n, err := c.Client.Exists(ctx, c.sizeKey()).Result(); err != nil || n > 0 {
			c.counted.Store(err == nil)
			return err
		}
	}
	pipe := c.Client.Pipeline()
	lens := make([]*goredis.IntCmd, 4096>>c.Level())
	for i := range lens {
		lens[i] = pipe.HLen(ctx, c.slot(i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	var n int64
	for _, l := range lens {
		n += l.Val()
	}
	if err := c.Client.Set(ctx, c.sizeKey(), n, 0).Err(); err != nil {
		return err
	}
	c.counted.Store(true)
	return nil
}

// Lookup resolves a batch in one pipeline (a canary.BatchLookup).
func (c *Canaries) Lookup(ctx context.Context, keys []records.Found) ([]canary.Issued, []bool, error) {
	pipe := c.Client.Pipeline()
	cmds := make([]*goredis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HGet(ctx, c.key(k.Hash), canaryField(records.Kind(k.Entity), k.Hash))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, nil, err
	}
	out := make([]canary.Issued, len(keys))
	found := make([]bool, len(keys))
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		at, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		x := canary.Issued{Kind: records.Kind(keys[i].Entity), Hash: keys[i].Hash, At: at}
		for _, ks := range f[1:] {
			if k, err := identity.ParseKey(ks); err == nil {
				x.Actor.Keys[k.Kind] = k
			}
		}
		out[i], found[i] = x, true
	}
	return out, found, nil
}
