package analyze

import (
	"math/bits"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Capture wraps the engine's meter during a replay and keeps, for the
// line being replayed, the bounds each key's Observe wrote: the peaks
// (outliers, suggestions) read them instead of asking the meter again,
// which costs a lock, a map lookup and a walk of the key's list for every
// key, entity and window of every record line.
//
// A kept bound is what Bound would answer at the same instant: nothing
// changes a key's state between its Observe and the peaks but a Count on
// it (an estimate replaces the bound: those are noted and asked again) or
// its eviction, which cannot happen while each shard of the meter holds
// more keys than a line has (NewCapture refuses smaller meters).
type Capture struct {
	engine.Meter
	// off: calls pass through, nothing is kept. A sharded replay calls
	// the meter from several goroutines and keeps the bounds itself.
	off  bool
	nw   int
	now  int64
	line [identity.NumKinds]captured
}

type captured struct {
	key     identity.Key
	touched uint64 // entities written
	dirty   uint64 // entity*windows+window asked for a Count since
	counts  []uint64
}

// NewCapture wraps m, or returns nil when its shards may hold too few keys
// (maxActors/256 keys each) for a kept bound to be sure.
func NewCapture(m engine.Meter, maxActors int) *Capture {
	if maxActors < 256*(int(identity.NumKinds)+2) {
		return nil
	}
	return &Capture{Meter: m, nw: len(m.Windows())}
}

// Traffic passes the engine's enumeration check through to the meter.
func (c *Capture) Traffic(now int64, k identity.Key, wi int) (req, miss uint64) {
	if tm, ok := c.Meter.(interface {
		Traffic(int64, identity.Key, int) (uint64, uint64)
	}); ok {
		return tm.Traffic(now, k, wi)
	}
	return 0, 0
}

// Bounds passes the engine's bounds of a key's budgets through to the
// meter: they change no count, so the kept bounds stand.
func (c *Capture) Bounds(now int64, k identity.Key, want uint64, dst []uint64) {
	if bm, ok := c.Meter.(interface {
		Bounds(int64, identity.Key, uint64, []uint64)
	}); ok {
		bm.Bounds(now, k, want, dst)
		return
	}
	for nw := max(c.nw, 1); want != 0; want &= want - 1 {
		i := bits.TrailingZeros64(want)
		dst[i] = c.Meter.Bound(now, k, i/nw, i%nw)
	}
}

// begin forgets the previous line's bounds.
func (c *Capture) begin(now int64) {
	c.now = now
	for i := range c.line {
		c.line[i].key = identity.Key{}
	}
}

func (c *Capture) Observe(now int64, k identity.Key, recs []records.Found, miss bool, counts []uint64) uint64 {
	touched := c.Meter.Observe(now, k, recs, miss, counts)
	// Without counts (the engine's traffic-only keys, engine.nobodyKey)
	// there are no bounds to keep, and the line's key's must stay.
	if !c.off && counts != nil && k.Kind < identity.NumKinds && now == c.now {
		l := &c.line[k.Kind]
		l.key, l.touched, l.dirty = k, touched, 0
		l.counts = append(l.counts[:0], counts...)
	}
	return touched
}

func (c *Capture) Count(now int64, k identity.Key, ent, wi int) uint64 {
	if !c.off && k.Kind < identity.NumKinds && c.line[k.Kind].key == k {
		l := &c.line[k.Kind]
		if i := ent*c.nw + wi; i < 64 {
			l.dirty |= 1 << i
		} else {
			l.key = identity.Key{} // past what the mask holds: ask the meter
		}
	}
	return c.Meter.Count(now, k, ent, wi)
}

// bound is Bound(now, k, ent, wi), from the kept bounds when it can be.
func (c *Capture) bound(now int64, k identity.Key, ent, wi int) uint64 {
	if now == c.now && k.Kind < identity.NumKinds && ent < 64 {
		l := &c.line[k.Kind]
		i := ent*c.nw + wi
		if l.key == k && l.touched&(1<<ent) != 0 && i < 64 && l.dirty&(1<<i) == 0 && i < len(l.counts) {
			return l.counts[i]
		}
	}
	return c.Meter.Bound(now, k, ent, wi)
}
