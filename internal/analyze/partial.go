package analyze

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// A log too large for one machine is cut by key, not by time: each shard
// pass (Options.Parts) reads the whole log, replays the detector and every
// address key (the risk of a line rests on its address's traffic, and the
// crew's and every other key's decisions carry it) and every sweepers'
// crew key (the detector asks whether it is sanctioned), and meters,
// judges and holds only its own other keys (shard.go, passEngine). It writes what it holds, a partial state;
// the merge reads every pass's and builds the report from their union with
// the code a single replay uses, so the report is the single replay's.
//
// The partial file (version 1), every integer an unsigned varint unless
// said otherwise, signed ones zig-zag varints (binary.PutVarint):
//
//	magic    "leakguard partial\n"
//	version  1
//	header   config sha256 (32 bytes), input (string), part, parts,
//	         flags (reveal 1, suggest 2, exact 4, sessions 8), exact limit,
//	         max keys, since, until (times), key probe (8 bytes LE),
//	         entities, windows
//	totals   lines, malformed, truncated agents, out of order, outside,
//	         folded, exact pairs, exact abandoned (0/1), first, last (times),
//	         malformed sample (count, strings), keys held (bytes: a sketch),
//	         folded peaks (count; kind, entity, window, count; value, keys),
//	         folded hours (count; hour signed, records),
//	         raw values (count; key, string)
//	actors   count; each actor (encoder.actor; its peaks and records per
//	         entity up to the last it took, not every entity)
//	sha256   of every byte before it (32 bytes)
//
// A string or bytes is its length then its bytes; a key its kind (1 byte)
// and hash (8 bytes LE); a time 0 for none, or 1, unix seconds (signed),
// nanoseconds and the zone's offset in seconds (signed).

const (
	partialMagic   = "leakguard partial\n"
	partialVersion = 1
	maxPartialStr  = 1 << 20 // strings, sketches
)

// PartialMeta says what a partial file is: which pass of how many, and
// everything every pass of one log must share.
type PartialMeta struct {
	ConfigHash [32]byte // of the config file
	Input      string   // how lines are read (format, fields): the same in every pass
	Part       int
	Parts      int
	Reveal     bool
	Suggest    bool
	Exact      bool
	Sessions   bool
	ExactLimit int
	MaxKeys    int
	Since      time.Time
	Until      time.Time
	// Probe is a key of a fixed value under the pass's secret: passes
	// keyed with different secrets hold different keys for the same
	// people, and their merge would be nonsense.
	Probe uint64
}

// Lines is how many lines the replay read (a shard pass: all of them).
func (a *Analyzer) Lines() int { return a.lines }

// Held is how many keys the replay holds (a shard pass: its own).
func (a *Analyzer) Held() int { return len(a.actors) }

// probe is the key probe of the analyzer's resolver.
func (a *Analyzer) probe() uint64 {
	return a.o.Resolver.AccountKey("leakguard partial probe").Hash
}

// Partial is one shard pass's state, read from its file.
type Partial struct {
	Meta     PartialMeta
	entities int
	windows  int
	lines    int
	bad      int
	truncUA  int
	outOfOrd int
	outside  int
	folded   int
	pairs    int
	inexact  bool
	first    time.Time
	last     time.Time
	badLines []string
	keys     *hyperloglog.Sketch
	fPeaks   map[peakGroup]map[uint32]int
	fHours   map[int32]uint32
	raw      map[identity.Key]string
	actors   map[uint64]*actor
}

// WritePartial writes the state of a shard pass (Options.Parts) after
// Read, for Merge. configHash and input are the caller's: the config
// file's hash and how the lines were read.
func (a *Analyzer) WritePartial(w io.Writer, configHash [32]byte, input string) error {
	if a.o.Parts == 0 {
		return errors.New("not a shard pass")
	}
	e := &encoder{w: bufio.NewWriterSize(w, 1<<16), h: sha256.New(), windows: a.nw}
	e.raw([]byte(partialMagic))
	e.uint(partialVersion)
	e.raw(configHash[:])
	e.str(input)
	e.uint(uint64(a.o.Part))
	e.uint(uint64(a.o.Parts))
	var flags uint64
	for i, b := range []bool{a.o.Reveal, a.o.Suggest, a.o.Exact, a.o.Sessions} {
		if b {
			flags |= 1 << i
		}
	}
	e.uint(flags)
	e.uint(uint64(a.o.ExactLimit))
	e.uint(uint64(a.o.MaxKeys))
	e.time(a.o.Since)
	e.time(a.o.Until)
	e.u64(a.probe())
	nw := 0
	if a.o.Meter != nil {
		nw = len(a.o.Meter.Windows())
	}
	e.uint(uint64(len(a.entities)))
	e.uint(uint64(nw))

	for _, n := range []int{a.lines, a.bad, a.truncUA, a.outOfOrd, a.outside, a.folded, a.pairs} {
		e.uint(uint64(n))
	}
	e.bool(a.inexact)
	e.time(a.first)
	e.time(a.last)
	e.strs(a.badLines)
	e.sketch(a.keys)
	e.uint(uint64(len(a.foldedPeaks)))
	for g, h := range a.foldedPeaks {
		e.uint(uint64(g.kind))
		e.uint(uint64(g.ent))
		e.uint(uint64(g.wi))
		e.uint(uint64(len(h)))
		for v, n := range h {
			e.uint(uint64(v))
			e.uint(uint64(n))
		}
	}
	e.uint(uint64(len(a.foldedHours)))
	for h, n := range a.foldedHours {
		e.int(int64(h))
		e.uint(uint64(n))
	}
	e.uint(uint64(len(a.raw)))
	for k, v := range a.raw {
		e.key(k)
		e.str(v)
	}
	e.uint(uint64(len(a.actors)))
	for _, ac := range a.actors {
		e.actor(ac)
	}
	if e.err != nil {
		return e.err
	}
	sum := e.h.Sum(nil)
	if _, err := e.w.Write(sum); err != nil {
		return err
	}
	return e.w.Flush()
}

func (e *encoder) actor(ac *actor) {
	e.key(ac.key)
	e.str(ac.addr)
	e.bool(ac.exempt)
	e.time(ac.first)
	e.time(ac.last)
	e.uint(uint64(ac.requests))
	e.uint(uint64(ac.misses))
	// per entity, its windows' (an entity never seen: all 0)
	nw, ents := e.windows, 0
	if ac.peak != nil && nw > 0 {
		ents = len(ac.peak) / nw
	}
	e.uint(uint64(ents))
	for ent := range ents {
		e.u32s(ac.peak[ent*nw : ent*nw+nw])
	}
	e.uint(uint64(len(ac.hours)))
	for _, hc := range ac.hours {
		e.int(int64(hc.h))
		e.uint(uint64(hc.n))
	}
	var links []identity.Key
	ac.links.each(func(k identity.Key) { links = append(links, k) })
	e.uint(uint64(len(links)))
	for _, k := range links {
		e.key(k)
	}
	var people [identity.NumKinds]uint32
	if ac.people != nil {
		people = ac.people.n
	}
	for _, n := range people {
		e.uint(uint64(n))
	}
	e.uint(uint64(len(ac.crossings)))
	for _, c := range ac.crossings {
		e.uint(uint64(c.ent))
		e.uint(uint64(c.wi))
		e.int(int64(c.level))
		e.time(c.at)
		e.u32s(c.before)
		e.u32s(c.beforeEst)
	}
	e.uint(uint64(len(ac.sketches)))
	for i := range ac.sketches {
		d := &ac.sketches[i]
		if d.sk != nil {
			e.uint(1)
			e.sketch(d.sk)
			continue
		}
		e.uint(0)
		e.uint(uint64(len(d.small)))
		for _, h := range d.small {
			e.u64(h)
		}
	}
	e.uint(uint64(len(ac.exact)))
	for _, m := range ac.exact {
		if m == nil {
			e.uint(0)
			continue
		}
		e.uint(1)
		e.uint(uint64(len(m)))
		for h := range m {
			e.u64(h)
		}
	}
	f := ac.finding
	if f == nil {
		f = &finding{}
	}
	e.time(f.detected)
	e.str(f.rule)
	e.str(f.action)
	e.strs(f.signals)
	e.uint(f.atCount)
	e.u64s(f.beforeCnt)
	e.u64s(f.beforeEst)
}

// encoder writes a partial file, hashing what it writes.
type encoder struct {
	windows int // the meter's, for the actors' peaks
	w       *bufio.Writer
	h       hash.Hash
	buf     [binary.MaxVarintLen64]byte
	err     error
}

func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	e.h.Write(b)
	_, e.err = e.w.Write(b)
}

func (e *encoder) uint(v uint64) { e.raw(e.buf[:binary.PutUvarint(e.buf[:], v)]) }
func (e *encoder) int(v int64)   { e.raw(e.buf[:binary.PutVarint(e.buf[:], v)]) }
func (e *encoder) u64(v uint64)  { e.raw(binary.LittleEndian.AppendUint64(e.buf[:0], v)) }

func (e *encoder) bool(b bool) {
	if b {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *encoder) key(k identity.Key) {
	e.raw([]byte{byte(k.Kind)})
	e.u64(k.Hash)
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.uint(0)
		return
	}
	_, off := t.Zone()
	e.uint(1)
	e.int(t.Unix())
	e.uint(uint64(t.Nanosecond()))
	e.int(int64(off))
}

// u32s and u64s write a list: 0 for none, else its length plus one and
// its values.
func (e *encoder) u32s(vs []uint32) { putList(e, vs) }

func (e *encoder) u64s(vs []uint64) { putList(e, vs) }

// strs writes a list of strings: its length, then each.
func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func putList[T uint32 | uint64](e *encoder, vs []T) {
	if vs == nil {
		e.uint(0)
		return
	}
	e.uint(uint64(len(vs)) + 1)
	for _, v := range vs {
		e.uint(uint64(v))
	}
}

func (e *encoder) sketch(s *hyperloglog.Sketch) {
	b, err := s.MarshalBinary()
	if err != nil && e.err == nil {
		e.err = err
	}
	e.str(string(b))
}

// ErrPartial is the error of every partial file that cannot be read.
var ErrPartial = errors.New("not a usable partial state")

// ReadPartial reads a partial file written by WritePartial. A file of
// another version, cut short or changed is an error (ErrPartial), never a
// crash: the file comes from another machine.
func ReadPartial(r io.Reader) (*Partial, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<16), h: sha256.New()}
	p, err := d.partial()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPartial, err)
	}
	return p, nil
}

func (d *decoder) partial() (*Partial, error) {
	magic := make([]byte, len(partialMagic))
	if d.raw(magic); d.err != nil || string(magic) != partialMagic {
		return nil, errors.New("not a leakguard partial file")
	}
	if v := d.uint(); d.err == nil && v != partialVersion {
		return nil, fmt.Errorf("version %d, this leakguard reads version %d", v, partialVersion)
	}
	p := &Partial{}
	m := &p.Meta
	d.raw(m.ConfigHash[:])
	m.Input = d.str()
	m.Part, m.Parts = d.int31(), d.int31()
	flags := d.uint()
	m.Reveal, m.Suggest, m.Exact, m.Sessions = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	m.ExactLimit, m.MaxKeys = d.int31(), d.int31()
	m.Since, m.Until = d.time(), d.time()
	m.Probe = d.u64()
	p.entities, p.windows = d.int31(), d.int31()
	if d.err != nil {
		return nil, d.fail()
	}
	switch {
	case m.Parts < 1 || m.Parts > 64 || m.Part >= m.Parts:
		return nil, fmt.Errorf("shard %d/%d: want 0 <= i < N <= 64", m.Part, m.Parts)
	case p.entities < 1 || p.entities > 64 || p.windows > 64:
		return nil, fmt.Errorf("%d entities and %d windows: want 1 to 64 and at most 64", p.entities, p.windows)
	}

	for _, n := range []*int{&p.lines, &p.bad, &p.truncUA, &p.outOfOrd, &p.outside, &p.folded, &p.pairs} {
		*n = d.int()
	}
	p.inexact = d.bool()
	p.first, p.last = d.time(), d.time()
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		p.badLines = append(p.badLines, d.str())
	}
	p.keys = d.sketch()
	p.fPeaks = map[peakGroup]map[uint32]int{}
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		g := peakGroup{identity.Kind(d.uint()), d.int31(), d.int31()}
		if d.err == nil && (g.kind >= identity.NumKinds || g.ent >= p.entities || g.wi >= p.windows) {
			return nil, fmt.Errorf("folded peaks of kind %d, entity %d, window %d", g.kind, g.ent, g.wi)
		}
		h := p.fPeaks[g]
		if h == nil {
			h = map[uint32]int{}
			p.fPeaks[g] = h
		}
		for n := d.uint(); n > 0 && d.err == nil; n-- {
			v := d.u32()
			h[v] += d.int()
		}
	}
	p.fHours = map[int32]uint32{}
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		h := d.i32()
		p.fHours[h] += d.u32()
	}
	p.raw = map[identity.Key]string{}
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		k := d.key()
		p.raw[k] = d.str()
	}
	p.actors = map[uint64]*actor{}
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		ac, err := d.actor(p)
		if err != nil {
			return nil, err
		}
		if d.err != nil {
			break
		}
		if memory.Partition(ac.key)%m.Parts != m.Part {
			return nil, fmt.Errorf("key %s is not shard %d/%d's", ac.key, m.Part, m.Parts)
		}
		id := actorID(ac.key)
		if p.actors[id] != nil {
			return nil, fmt.Errorf("key %s twice", ac.key)
		}
		p.actors[id] = ac
	}
	if d.err != nil {
		return nil, d.fail()
	}
	want := d.h.Sum(nil)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(d.r, got); err != nil {
		return nil, errors.New("cut short (no checksum at its end)")
	}
	if !bytes.Equal(got, want) {
		return nil, errors.New("checksum mismatch: the file was changed or damaged")
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		return nil, errors.New("data after the checksum")
	}
	return p, nil
}

func (d *decoder) actor(p *Partial) (*actor, error) {
	ac := &actor{key: d.key()}
	ac.addr = d.str()
	ac.exempt = d.bool()
	ac.first, ac.last = d.time(), d.time()
	ac.requests, ac.misses = d.int(), d.int()
	if n := d.int(); n > 0 {
		if n > p.entities {
			return nil, fmt.Errorf("key %s: peaks of %d entities, want at most %d", ac.key, n, p.entities)
		}
		ac.peak = make([]uint32, n*p.windows)
		for ent := range n {
			ws := d.u32s(p.windows)
			if ws != nil && len(ws) != p.windows {
				return nil, fmt.Errorf("key %s: peaks in %d windows, want %d", ac.key, len(ws), p.windows)
			}
			copy(ac.peak[ent*p.windows:], ws)
		}
	}
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		h := d.i32()
		ac.hours = append(ac.hours, hourCount{h, d.u32()})
	}
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		if k := d.key(); d.err == nil {
			ac.links.add(k)
		}
	}
	var people [identity.NumKinds]uint32
	for i := range people {
		people[i] = d.u32()
	}
	if people != ([identity.NumKinds]uint32{}) {
		ac.people = &keySet{n: people}
	}
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		c := crossing{ent: uint8(d.uint()), wi: uint8(d.uint()), level: int8(d.int())}
		c.at = d.time()
		c.before, c.beforeEst = d.u32s(p.entities), d.u32s(p.entities)
		if d.err == nil && (int(c.ent) >= p.entities || int(c.wi) >= p.windows || c.level < -1 || c.level > 40 ||
			c.before != nil && len(c.before) != p.entities || c.beforeEst != nil && len(c.beforeEst) != p.entities) {
			return nil, fmt.Errorf("key %s: a malformed crossing", ac.key)
		}
		ac.crossings = append(ac.crossings, c)
	}
	if n := d.int(); n > 0 {
		if n > p.entities {
			return nil, fmt.Errorf("key %s: records of %d entities, want at most %d", ac.key, n, p.entities)
		}
		ac.sketches = make([]distinct, n)
		for i := range ac.sketches {
			switch d.uint() {
			case 0:
				m := d.int()
				if m > smallMax {
					return nil, fmt.Errorf("key %s: a list of %d records", ac.key, m)
				}
				for range m {
					ac.sketches[i].small = append(ac.sketches[i].small, d.u64())
				}
			case 1:
				ac.sketches[i].sk = d.sketch()
			default:
				if d.err == nil {
					return nil, fmt.Errorf("key %s: an unknown record count", ac.key)
				}
			}
		}
	}
	if n := d.int(); n > 0 {
		if n != p.entities {
			return nil, fmt.Errorf("key %s: exact records of %d entities, want %d", ac.key, n, p.entities)
		}
		ac.exact = make([]map[uint64]struct{}, n)
		for i := range ac.exact {
			if d.uint() == 0 {
				continue
			}
			m := map[uint64]struct{}{}
			for n := d.uint(); n > 0 && d.err == nil; n-- {
				m[d.u64()] = struct{}{}
			}
			ac.exact[i] = m
		}
	}
	f := &finding{detected: d.time()}
	f.rule, f.action = d.str(), d.str()
	for n := d.uint(); n > 0 && d.err == nil; n-- {
		f.signals = append(f.signals, d.str())
	}
	f.atCount = d.uint()
	f.beforeCnt, f.beforeEst = d.u64s(p.entities), d.u64s(p.entities)
	if d.err == nil {
		switch {
		case ac.key.Kind >= identity.NumKinds || ac.key.Hash == 0:
			return nil, fmt.Errorf("a key of kind %d", ac.key.Kind)
		case !f.detected.IsZero() && len(f.beforeCnt) != p.entities,
			f.beforeCnt != nil && len(f.beforeCnt) != p.entities,
			f.beforeEst != nil && len(f.beforeEst) != p.entities:
			return nil, fmt.Errorf("key %s: records before detection of %d entities, want %d", ac.key, len(f.beforeCnt), p.entities)
		case f.detected.IsZero() && (f.rule != "" || f.action != "" || f.signals != nil || f.atCount != 0 || f.beforeCnt != nil || f.beforeEst != nil):
			return nil, fmt.Errorf("key %s: a finding without its time", ac.key)
		}
	}
	if !f.detected.IsZero() {
		ac.finding = f
	}
	return ac, nil
}

// decoder reads a partial file, hashing what it reads. The first error
// sticks: every read after it gives zero, and every loop stops.
type decoder struct {
	r   *bufio.Reader
	h   hash.Hash
	err error
}

// fail is the decoder's error as the reader sees it.
func (d *decoder) fail() error {
	if errors.Is(d.err, io.EOF) || errors.Is(d.err, io.ErrUnexpectedEOF) {
		return errors.New("cut short")
	}
	return d.err
}

func (d *decoder) raw(b []byte) {
	if d.err != nil {
		clear(b)
		return
	}
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.err = io.ErrUnexpectedEOF
		clear(b)
		return
	}
	d.h.Write(b)
}

// byteReader feeds binary.ReadUvarint through the hash.
type byteReader struct{ d *decoder }

func (b byteReader) ReadByte() (byte, error) {
	c, err := b.d.r.ReadByte()
	if err == nil {
		b.d.h.Write([]byte{c})
	}
	return c, err
}

func (d *decoder) uint() uint64 { return varint(d, binary.ReadUvarint) }

func (d *decoder) i64() int64 { return varint(d, binary.ReadVarint) }

// varint reads one varint with read; a file cut short is
// io.ErrUnexpectedEOF.
func varint[T uint64 | int64](d *decoder, read func(io.ByteReader) (T, error)) T {
	if d.err != nil {
		return 0
	}
	v, err := read(byteReader{d})
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		d.err = err
		return 0
	}
	return v
}

// upTo is a value of at most most; past it, the file is bad (what says
// what was read, with a %d for the value).
func (d *decoder) upTo(most uint64, what string) uint64 {
	v := d.uint()
	if v > most && d.err == nil {
		d.err = fmt.Errorf(what, v)
		return 0
	}
	return v
}

// int is a count: at most 2^40 (a partial file holds no more of anything).
func (d *decoder) int() int { return int(d.upTo(1<<40, "a count of %d")) }

// int31 is a small count or index.
func (d *decoder) int31() int { return int(d.upTo(1<<31-1, "a value of %d where at most 2^31-1 fits")) }

func (d *decoder) u32() uint32 { return uint32(d.upTo(1<<32-1, "a value of %d where 32 bits fit")) }

func (d *decoder) i32() int32 {
	v := d.i64()
	if (v < -1<<31 || v > 1<<31-1) && d.err == nil {
		d.err = fmt.Errorf("an hour of %d", v)
		return 0
	}
	return int32(v)
}

func (d *decoder) u64() uint64 {
	var b [8]byte
	d.raw(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func (d *decoder) bool() bool { return d.uint() != 0 }

func (d *decoder) str() string {
	n := d.uint()
	if n > maxPartialStr {
		if d.err == nil {
			d.err = fmt.Errorf("a string of %d bytes", n)
		}
		return ""
	}
	b := make([]byte, n)
	d.raw(b)
	return string(b)
}

func (d *decoder) key() identity.Key {
	var b [1]byte
	d.raw(b[:])
	k := identity.Key{Kind: identity.Kind(b[0]), Hash: d.u64()}
	if k.Kind >= identity.NumKinds {
		if d.err == nil {
			d.err = fmt.Errorf("a key of kind %d", k.Kind)
		}
		return identity.Key{}
	}
	return k
}

func (d *decoder) time() time.Time {
	switch d.uint() {
	case 0:
		return time.Time{}
	case 1:
	default:
		if d.err == nil {
			d.err = errors.New("a malformed time")
		}
		return time.Time{}
	}
	sec, nsec, off := d.i64(), d.uint(), d.i64()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 || off <= -24*3600 || off >= 24*3600 || sec < firstYear || sec > lastYear {
		d.err = errors.New("a time out of range")
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if off == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(off)))
}

// A time read is in the years 1 to 9999 (all a report can write).
var (
	firstYear = time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC).Unix()
	lastYear  = time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
)

// u32s and u64s read a list written by the encoder's, of at most max
// values.
func (d *decoder) u32s(max int) []uint32 { return list(d, max, d.u32) }

func (d *decoder) u64s(max int) []uint64 { return list(d, max, d.uint) }

func list[T any](d *decoder, max int, read func() T) []T {
	n := d.uint()
	if n == 0 || d.err != nil {
		return nil
	}
	if n-1 > uint64(max) {
		d.err = fmt.Errorf("a list of %d values, want at most %d", n-1, max)
		return nil
	}
	vs := make([]T, n-1)
	for i := range vs {
		vs[i] = read()
	}
	return vs
}

// sketch reads a HyperLogLog sketch of precision 14, as the analyzer
// makes them (sketches of another precision do not merge with its own).
func (d *decoder) sketch() *hyperloglog.Sketch {
	b := d.str()
	if d.err != nil {
		return hyperloglog.New14()
	}
	if len(b) < 2 || b[1] != 14 {
		d.err = errors.New("a sketch not of precision 14")
		return hyperloglog.New14()
	}
	s := hyperloglog.New14()
	if err := s.UnmarshalBinary([]byte(b)); err != nil {
		d.err = err
		return hyperloglog.New14()
	}
	return s
}

// CheckPartials checks that ps are the N passes of one shard run, each
// once, of one log under one configuration (configHash, if not nil, is
// the merge's own config file's): names, as long as ps, are the files'
// names for the errors.
func CheckPartials(ps []*Partial, names []string, configHash *[32]byte) error {
	if len(ps) == 0 {
		return errors.New("no partial files to merge")
	}
	m0 := ps[0].Meta
	if configHash != nil && m0.ConfigHash != *configHash {
		return fmt.Errorf("%s was made with another config file than --config (its hash differs): give the merge the passes' config", names[0])
	}
	seen := make([]string, m0.Parts)
	m0.Since, m0.Until = time.Time{}, time.Time{} // compared apart: a zone is a pointer
	for i, p := range ps {
		m := p.Meta
		m.Part = m0.Part
		m.Since, m.Until = time.Time{}, time.Time{}
		switch {
		case !p.Meta.Since.Equal(ps[0].Meta.Since) || !p.Meta.Until.Equal(ps[0].Meta.Until):
			return fmt.Errorf("%s and %s were run with different --since or --until", names[0], names[i])
		case m.ConfigHash != m0.ConfigHash:
			return fmt.Errorf("%s and %s were made with different config files", names[0], names[i])
		case m.Parts != m0.Parts:
			return fmt.Errorf("%s is shard %d/%d, %s shard %d/%d: different N", names[0], m0.Part, m0.Parts, names[i], p.Meta.Part, p.Meta.Parts)
		case m.Probe != m0.Probe:
			return fmt.Errorf("%s and %s were keyed with different secrets (secret.env / secret.file): their keys do not match", names[0], names[i])
		case m != m0:
			return fmt.Errorf("%s and %s were run with different flags (format, --reveal, --suggest-budgets, --exact, --max-keys, --since, --until)", names[0], names[i])
		case p.entities != ps[0].entities || p.windows != ps[0].windows:
			return fmt.Errorf("%s and %s meter different entities or windows", names[0], names[i])
		case p.lines != ps[0].lines || p.bad != ps[0].bad || p.outside != ps[0].outside || !p.first.Equal(ps[0].first) || !p.last.Equal(ps[0].last):
			return fmt.Errorf("%s read %d lines from %s to %s, %s %d lines from %s to %s: not the same log", names[0], ps[0].lines,
				ps[0].first.Format(time.RFC3339), ps[0].last.Format(time.RFC3339), names[i], p.lines, p.first.Format(time.RFC3339), p.last.Format(time.RFC3339))
		}
		if seen[p.Meta.Part] != "" {
			return fmt.Errorf("%s and %s are both shard %d/%d", seen[p.Meta.Part], names[i], p.Meta.Part, m0.Parts)
		}
		seen[p.Meta.Part] = names[i]
	}
	for i, s := range seen {
		if s == "" {
			return fmt.Errorf("shard %d/%d is missing: a merge needs all %d", i, m0.Parts, m0.Parts)
		}
	}
	return nil
}

// Options is what the merge's analyzer must be built with: the passes'.
func (p *Partial) Options() Options {
	m := p.Meta
	return Options{Reveal: m.Reveal, Suggest: m.Suggest, Exact: m.Exact, Sessions: m.Sessions,
		ExactLimit: m.ExactLimit, MaxKeys: m.MaxKeys, Since: m.Since, Until: m.Until}
}

// Merge makes a, built from the passes' config with their Options and
// never replayed, the union of the passes ps (CheckPartials): then its
// Report, Suggestions and Timelines are the single replay's. The
// partials' state moves to a.
func (a *Analyzer) Merge(ps []*Partial) error {
	if a.lines != 0 || len(a.actors) != 0 {
		return errors.New("merge into an analyzer that replayed lines")
	}
	nw := 0
	if a.o.Meter != nil {
		nw = len(a.o.Meter.Windows())
	}
	for _, p := range ps {
		if p.entities != len(a.entities) || p.windows != nw {
			return fmt.Errorf("shard %d/%d meters %d entities in %d windows, the config %d in %d: another config",
				p.Meta.Part, p.Meta.Parts, p.entities, p.windows, len(a.entities), nw)
		}
	}
	p0 := ps[0]
	a.lines, a.bad, a.truncUA, a.outOfOrd, a.outside = p0.lines, p0.bad, p0.truncUA, p0.outOfOrd, p0.outside
	a.first, a.last, a.badLines = p0.first, p0.last, p0.badLines
	for _, p := range ps {
		a.folded += p.folded
		a.pairs += p.pairs
		a.inexact = a.inexact || p.inexact
		if err := a.keys.Merge(p.keys); err != nil {
			return err
		}
		a.addFolded(p.fPeaks, p.fHours)
		if a.raw != nil {
			maps.Copy(a.raw, p.raw)
		}
		for id, ac := range p.actors {
			if a.actors[id] != nil {
				return fmt.Errorf("key %s in two shards", ac.key)
			}
			a.actors[id] = ac
		}
		p.actors = nil
	}
	// The single replay gave up exact counts once all its keys held more
	// pairs than the limit; the sum of the passes' is that total.
	a.settleExact()
	return nil
}
