package memory

import (
	"encoding/binary"
	"errors"

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
// growing memory.
const spillCap = 256

// Drain returns the state of every actor key changed since the last drain,
// including keys evicted since, and how many evicted keys were dropped
// because more were evicted than a drain can hold. Encoding happens under
// each shard's lock, briefly; writing the result is the caller's.
func (m *Memory) Drain() (out []Saved, dropped uint64) {
	if !m.persist {
		return nil, 0
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		out = append(append(out, s.spill[s.spillAt:]...), s.spill[:s.spillAt]...) // oldest first
		clear(s.spill)
		s.spill, s.spillAt = s.spill[:0], 0
		for k := range s.dirty {
			if a := s.find(k); a != nil {
				out = append(out, Saved{Key: k, Last: a.last, Data: m.encode(a)})
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
	if len(s.spill) < spillCap {
		s.spill = append(s.spill, sv)
		return
	}
	// Full: the oldest gives way, in place (a ring from spillAt).
	s.spill[s.spillAt] = sv
	s.spillAt = (s.spillAt + 1) % spillCap
	s.dropped++
}

const encodingVersion = 1

func (m *Memory) encode(a *actor) []byte {
	b := make([]byte, 0, 64+len(a.traffic)*(Buckets+1)*6)
	b = append(b, encodingVersion)
	b = binary.AppendVarint(b, a.last)
	b = binary.AppendUvarint(b, uint64(len(a.traffic)))
	for wi := range a.traffic {
		r := &a.traffic[wi]
		for i := range r.epoch {
			b = binary.AppendVarint(b, r.epoch[i])
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
			for _, e := range d.exact {
				b = binary.LittleEndian.AppendUint64(b, e.hash)
				b = binary.AppendVarint(b, e.last)
			}
		default:
			b = append(b, 2)
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
	if r.byte1() != encodingVersion {
		return nil, errCorrupt
	}
	a := &actor{key: k, last: r.varint()}
	nw := r.uvarint()
	if nw != uint64(m.ringCount(k)) && nw != 0 {
		return nil, errCorrupt
	}
	// Stored without rings (AddressTrafficOnly): counted from now on if
	// this meter counts them.
	a.traffic = m.ringsFor(k)
	for wi := range int(nw) {
		tr := &a.traffic[wi]
		for i := range tr.epoch {
			tr.epoch[i] = r.varint()
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
			for i := 0; i < n; i++ {
				d.exact = append(d.exact, entry{hash: r.u64(), last: r.varint()})
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
