package memory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/axiomhq/hyperloglog"

	"github.com/leakguard/leakguard/internal/identity"
)

// Saved is one actor key's state, encoded, for a store to keep.
type Saved struct {
	Key  identity.Key
	Last int64 // unix ns the key was last seen: stores expire by it
	Data []byte
}

// spillCap bounds, per shard, the evicted actors waiting for the next
// drain. A flood of fresh keys between two drains beyond 256 × 256 = 65,536
// keys loses the oldest spilled ones (counted in Spilled) rather than
// growing memory. A meter held to fewer actors (meter.max_actors,
// meter.max_bytes) spills as many as it holds at most, each encoded (a
// third of its size in memory or less): with max_bytes at 1 MiB, 768
// actors held and 65,536 spilled took 20 MB (found by a probe, 2026-12-05).
const spillCap = 256

// spillCapOf is a shard's spill bound for a shard of shardCap actors.
func spillCapOf(shardCap int) int { return min(max(shardCap, 4), spillCap) }

// Drain returns the state of every actor key changed since the last drain,
// including keys evicted since, and how many evicted keys were dropped
// because more were evicted than a drain can hold. Encoding happens under
// each shard's lock, briefly; writing the result is the caller's.
func (m *Memory) Drain() (out []Saved, dropped uint64) {
	if !m.persist {
		return nil, 0
	}
	var buf []byte // encodes each actor, then is copied at its size
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		out = append(append(out, s.spill[s.spillAt:]...), s.spill[:s.spillAt]...) // oldest first
		clear(s.spill)
		s.spill, s.spillAt = s.spill[:0], 0
		for k := range s.dirty {
			if a := s.find(k); a != nil {
				buf = m.appendEncoded(buf[:0], a)
				out = append(out, Saved{Key: k, Last: a.last, Data: bytes.Clone(buf)})
			}
		}
		clear(s.dirty)
		dropped += s.dropped
		s.dropped = 0
		s.mu.Unlock()
	}
	return out, dropped
}

func (s *shard) markDirty(m *Memory, k identity.Key) {
	if m.persist {
		s.dirty[k] = struct{}{}
	}
}

// evicted keeps a dirty evicted actor for the next drain.
func (s *shard) evicted(m *Memory, a *actor) {
	if !m.persist {
		return
	}
	if _, ok := s.dirty[a.key]; !ok {
		return // its latest state is already stored
	}
	delete(s.dirty, a.key)
	sv := Saved{Key: a.key, Last: a.last, Data: m.encode(a)}
	if len(s.spill) < m.spillCap {
		s.spill = append(s.spill, sv)
		return
	}
	// Full: the oldest gives way, in place (a ring from spillAt).
	s.spill[s.spillAt] = sv
	s.spillAt = (s.spillAt + 1) % m.spillCap
	s.dropped++
}

// encodingVersion 2 writes times as differences, to the grain they are
// read at: a flush rewrites every actor changed since the last (some
// 18,000 every 2 s under bench/people.lua), and in version 1 an exact
// entry's time, a nanosecond varint, was 9 of its 17 bytes. Version 1 is
// still read.
const encodingVersion = 2

func (m *Memory) encode(a *actor) []byte { return m.appendEncoded(nil, a) }

// appendEncoded appends a's state to b: its last-seen time, then each
// traffic ring as its newest epoch and every slot's distance from it,
// then each entity's records; an exact entry as its hash and its time in
// grains before the actor's last. An entry's time is only ever divided by
// a window's width, which the grain divides, so it counts exactly as it
// did (TestAReloadedMeterCountsAsTheOriginalAtEveryMoment).
func (m *Memory) appendEncoded(b []byte, a *actor) []byte {
	b = append(b, encodingVersion)
	b = binary.AppendVarint(b, a.last)
	g := m.grain
	b = binary.AppendUvarint(b, uint64(g))
	b = binary.AppendUvarint(b, uint64(len(a.traffic)))
	for wi := range a.traffic {
		r := &a.traffic[wi]
		base := slices.Max(r.epoch[:])
		b = binary.AppendVarint(b, base)
		for i := range r.epoch {
			if r.epoch[i] == 0 {
				b = append(b, 0) // a slot never used
			} else {
				b = binary.AppendUvarint(b, uint64(base-r.epoch[i])+1)
			}
			b = binary.AppendUvarint(b, uint64(r.req[i]))
			b = binary.AppendUvarint(b, uint64(r.miss[i]))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(a.ents)))
	for _, d := range a.ents {
		switch {
		case d == nil:
			b = append(b, 0)
		case d.sketch == nil:
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(d.exact)))
			at := a.last / g
			for _, e := range d.exact {
				b = binary.LittleEndian.AppendUint64(b, e.hash)
				b = binary.AppendVarint(b, at-e.last/g)
			}
		default:
			b = append(b, 2)
			b = m.encodeSketch(b, d)
		}
	}
	return b
}

func (m *Memory) encodeSketch(b []byte, d *distinct) []byte {
	for _, ws := range d.sketch {
		b = binary.AppendVarint(b, ws.cur)
		b = binary.AppendUvarint(b, ws.cached)
		b = binary.AppendUvarint(b, ws.pending)
		b = binary.AppendVarint(b, ws.estEpoch)
		for i, bk := range ws.ring {
			switch {
			case bk == nil:
				b = append(b, 0)
			case bk.hll != nil:
				hb, _ := bk.hll.MarshalBinary()
				b = append(b, 2)
				b = binary.AppendVarint(b, ws.epochs[i])
				b = binary.AppendUvarint(b, uint64(len(hb)))
				b = append(b, hb...)
			default:
				b = append(b, 1)
				b = binary.AppendVarint(b, ws.epochs[i])
				b = binary.AppendUvarint(b, uint64(bk.set.len()))
				for x := range bk.set.all {
					b = binary.LittleEndian.AppendUint64(b, x)
				}
			}
		}
	}
	return b
}

var errCorrupt = errors.New("meter: stored actor state is corrupt or from another configuration")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1() byte {
	if len(r.b) < 1 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// count reads a length and checks it against what is left, so corrupt
// input cannot make decode allocate without bound.
func (r *reader) count(minSize int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/max(minSize, 1)) {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	return int(n)
}

// decode rebuilds an actor from encode's output.
func (m *Memory) decode(k identity.Key, data []byte) (*actor, error) {
	r := &reader{b: data}
	version := r.byte1()
	if version != 1 && version != encodingVersion {
		return nil, errCorrupt
	}
	a := &actor{key: k, last: r.varint()}
	g := int64(1)
	if version >= 2 {
		if g = int64(r.uvarint()); g < 1 {
			return nil, errCorrupt
		}
	}
	nw := r.uvarint()
	if nw != uint64(m.ringCount(k)) && nw != 0 {
		return nil, errCorrupt
	}
	// Stored without rings (AddressTrafficOnly): counted from now on if
	// this meter counts them.
	a.traffic = m.ringsFor(k)
	for wi := range int(nw) {
		tr := &a.traffic[wi]
		var base int64
		if version >= 2 {
			base = r.varint()
		}
		for i := range tr.epoch {
			if version >= 2 {
				if back := r.uvarint(); back > 0 {
					tr.epoch[i] = base - int64(back-1)
				}
			} else {
				tr.epoch[i] = r.varint()
			}
			tr.req[i] = uint32(r.uvarint())
			tr.miss[i] = uint32(r.uvarint())
		}
	}
	ne := r.uvarint()
	if ne > uint64(m.entities) {
		return nil, errCorrupt
	}
	a.ents = make([]*distinct, ne)
	for ent := 0; ent < int(ne) && r.err == nil; ent++ {
		switch r.byte1() {
		case 0:
		case 1:
			n := r.count(9)
			d := &distinct{exact: make([]entry, 0, n)}
			at := a.last / g
			for i := 0; i < n; i++ {
				h, t := r.u64(), r.varint()
				if version >= 2 {
					t = (at - t) * g
				}
				d.exact = append(d.exact, entry{hash: h, last: t})
			}
			a.ents[ent] = d
		case 2:
			d := &distinct{sketch: make([]*windowSketch, len(m.windows))}
			for wi := range d.sketch {
				ws := &windowSketch{cur: r.varint(), cached: r.uvarint(), pending: r.uvarint(), estEpoch: r.varint()}
				for i := range ws.ring {
					switch r.byte1() {
					case 0:
					case 1:
						ws.epochs[i] = r.varint()
						n := r.count(8)
						bk := &bucket{set: newHashSet(n)}
						for j := 0; j < n; j++ {
							bk.set.add(r.u64())
						}
						ws.ring[i] = bk
					case 2:
						ws.epochs[i] = r.varint()
						n := r.count(1)
						if r.err != nil {
							break
						}
						sk := new(hyperloglog.Sketch)
						if err := sk.UnmarshalBinary(r.b[:n]); err != nil {
							return nil, errCorrupt
						}
						r.b = r.b[n:]
						ws.ring[i] = &bucket{hll: sk}
					default:
						return nil, errCorrupt
					}
				}
				d.sketch[wi] = ws
			}
			a.ents[ent] = d
		default:
			return nil, errCorrupt
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errCorrupt
	}
	return a, nil
}
