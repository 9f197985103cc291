package detect

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// A snapshot of the popularity Behaviour has learnt (the count-min sketch,
// the Bloom filter of (record, address) pairs, and the platform-wide
// counters), so a restarted proxy does not start cold: until people's cold
// share is measured and the sketch is warm, crews at a person's pace and
// crews that load pages go unrecognised, for seconds at a busy shop and
// for hours at a small one at night. The per-address state is left out: it
// is evidence about keys a restart's gap has made stale anyway, and it is
// most of what an address flood costs.
//
// Layout, little-endian:
//
//	magic [8]byte, version uint16, rows uint16, width uint32, seenBits uint32,
//	savedAt int64 (unix ns), inserted, recent, recentCold, paced,
//	pacedCold, everServed uint64, coldMax uint16, 0 uint16, coldHistN uint32,
//	coldHist [coldHistLen]uint32,
//	body: DEFLATE of the sketch (rows*width bytes) then seen (seenBits/64 uint64),
//	SHA-256 of everything before it.
//
// The body is compressed because a small shop's sketch is mostly zeros:
// the raw arrays are 5 MiB whatever was served, written every minute.
const (
	snapMagic   = "LGPOPSK\x00"
	snapVersion = 3 // 2: byte counters, 2^20 wide; 3: the cold threshold people set
	snapHeader  = 8 + 2 + 2 + 4 + 4 + 8 + 6*8 + snapCold
	snapCold    = 2 + 2 + 4 + 4*coldHistLen
	snapSum     = sha256.Size
	snapRaw     = cmsRows*cmsWidth + seenBits/8
)

// SnapshotMaxAge: Restore refuses a snapshot saved longer ago than this.
// A shop's popular records change over a day (the new arrivals, the sale),
// and people's cold share measured yesterday says little about tonight;
// a cold start is then the honest one.
const SnapshotMaxAge = 24 * time.Hour

var (
	// ErrStale is returned (wrapped) by Restore for a snapshot older than
	// SnapshotMaxAge, or saved implausibly far in the future.
	ErrStale = errors.New("popularity snapshot is stale")
	// ErrSnapshotMismatch is returned (wrapped) for a snapshot of another
	// format version or other sketch dimensions: another build's.
	ErrSnapshotMismatch = errors.New("popularity snapshot is of another build")
	// ErrSnapshotCorrupt is returned (wrapped) for a truncated or damaged
	// snapshot.
	ErrSnapshotCorrupt = errors.New("popularity snapshot is corrupt")
)

// Snapshot returns what b has learnt of popularity, for Restore in a later
// process. It holds the sketch's lock only while copying its arrays (5
// MiB, a memory copy), not while encoding or compressing them: Served
// waits on that lock.
func (b *Behaviour) Snapshot() []byte {
	cms := new([cmsRows][cmsWidth]uint8)
	seen := make([]uint64, seenBits/64)
	var counters [6]uint64
	b.cmsMu.Lock()
	// The parts are read before their wholes: Served adds to a whole first,
	// so a share read meanwhile stays at most 1.
	counters[5] = b.everServed.Load()
	counters[2] = b.recentCold.Load()
	counters[1] = b.recent.Load()
	counters[4] = b.pacedCold.Load()
	counters[3] = b.paced.Load()
	counters[0] = b.inserted
	coldMax, coldHistN, coldHist := b.coldMax, b.coldHistN, b.coldHist
	*cms = b.cms
	copy(seen, b.seen)
	b.cmsMu.Unlock()

	raw := make([]byte, 0, snapRaw)
	for r := range cms {
		raw = append(raw, cms[r][:]...)
	}
	for _, w := range seen {
		raw = binary.LittleEndian.AppendUint64(raw, w)
	}

	out := make([]byte, snapHeader, snapHeader+64<<10)
	copy(out, snapMagic)
	binary.LittleEndian.PutUint16(out[8:], snapVersion)
	binary.LittleEndian.PutUint16(out[10:], cmsRows)
	binary.LittleEndian.PutUint32(out[12:], cmsWidth)
	binary.LittleEndian.PutUint32(out[16:], seenBits)
	binary.LittleEndian.PutUint64(out[20:], uint64(time.Now().UnixNano()))
	for i, c := range counters {
		binary.LittleEndian.PutUint64(out[28+8*i:], c)
	}
	// The threshold people's responses set, and their counts: without
	// them a restarted proxy judged keys at ColdMax against people's
	// share measured at the threshold before.
	binary.LittleEndian.PutUint16(out[76:], coldMax)
	binary.LittleEndian.PutUint32(out[80:], coldHistN)
	for v, c := range coldHist {
		binary.LittleEndian.PutUint32(out[84+4*v:], c)
	}
	buf := bytes.NewBuffer(out)
	// BestSpeed: a busy shop's sketch hardly compresses at any level, and
	// a small shop's zeros compress at this one.
	zw, _ := flate.NewWriter(buf, flate.BestSpeed) // the level is valid
	zw.Write(raw)                                  // a bytes.Buffer does not fail
	zw.Close()
	sum := sha256.Sum256(buf.Bytes())
	return append(buf.Bytes(), sum[:]...)
}

// Restore replaces what b has learnt of popularity with snapshot p, saved
// by Snapshot, if p is whole, of this build's format and dimensions, and
// at most SnapshotMaxAge old at now. Otherwise it returns an error
// (ErrSnapshotCorrupt, ErrSnapshotMismatch or ErrStale, wrapped) and b is
// unchanged.
//
// It replaces rather than merges: it is meant for a tracker just built,
// before it serves; and adding sketches would count twice every
// (record, address) pair both had seen, which the Bloom filter exists to
// count once. On a fleet the snapshot is one proxy's view, the last to
// keep it, which is the fleet's popularity seen from one door: close
// enough, since people are shown the same popular records whichever
// proxy serves them.
func (b *Behaviour) Restore(p []byte, now time.Time) error {
	if len(p) < snapHeader+snapSum {
		return fmt.Errorf("%w: %d bytes, shorter than its header", ErrSnapshotCorrupt, len(p))
	}
	if string(p[:8]) != snapMagic {
		return fmt.Errorf("%w: not a popularity snapshot", ErrSnapshotCorrupt)
	}
	// The version before the checksum: another version may sum otherwise.
	if v := binary.LittleEndian.Uint16(p[8:]); v != snapVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d", ErrSnapshotMismatch, v, snapVersion)
	}
	body, sum := p[:len(p)-snapSum], p[len(p)-snapSum:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return fmt.Errorf("%w: checksum does not match (truncated or damaged)", ErrSnapshotCorrupt)
	}
	rows, width, bits := binary.LittleEndian.Uint16(p[10:]), binary.LittleEndian.Uint32(p[12:]), binary.LittleEndian.Uint32(p[16:])
	if rows != cmsRows || width != cmsWidth || bits != seenBits {
		return fmt.Errorf("%w: a %dx%d sketch with %d seen bits, this build keeps %dx%d with %d",
			ErrSnapshotMismatch, rows, width, bits, cmsRows, cmsWidth, seenBits)
	}
	savedAt := time.Unix(0, int64(binary.LittleEndian.Uint64(p[20:])))
	switch age := now.Sub(savedAt); {
	case age > SnapshotMaxAge:
		return fmt.Errorf("%w: saved %s ago (at %s), more than %s", ErrStale, age.Round(time.Second), savedAt.UTC().Format(time.RFC3339), SnapshotMaxAge)
	case age < -SnapshotMaxAge:
		return fmt.Errorf("%w: saved %s in the future (at %s): a clock was wrong", ErrStale, (-age).Round(time.Second), savedAt.UTC().Format(time.RFC3339))
	}
	var c [6]uint64
	for i := range c {
		c[i] = binary.LittleEndian.Uint64(p[28+8*i:])
	}
	inserted, recent, recentCold, paced, pacedCold, everServed := c[0], c[1], c[2], c[3], c[4], c[5]
	if inserted >= halveEvery || recentCold > recent || pacedCold > paced {
		return fmt.Errorf("%w: counters out of range", ErrSnapshotCorrupt)
	}
	coldMax, coldHistN := binary.LittleEndian.Uint16(p[76:]), binary.LittleEndian.Uint32(p[80:])
	var coldHist [coldHistLen]uint32
	for v := range coldHist {
		coldHist[v] = binary.LittleEndian.Uint32(p[84+4*v:])
	}
	if coldMax >= coldHistLen-1 || coldHistN >= coldHistEvery {
		return fmt.Errorf("%w: cold threshold out of range", ErrSnapshotCorrupt)
	}

	raw := make([]byte, snapRaw)
	zr := flate.NewReader(bytes.NewReader(body[snapHeader:]))
	if _, err := io.ReadFull(zr, raw); err != nil {
		return fmt.Errorf("%w: sketch: %v", ErrSnapshotCorrupt, err)
	}
	if n, err := zr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return fmt.Errorf("%w: sketch longer than its dimensions", ErrSnapshotCorrupt)
	}
	cms := new([cmsRows][cmsWidth]uint8)
	off := 0
	for r := range cms {
		off += copy(cms[r][:], raw[off:])
	}
	seen := make([]uint64, seenBits/64)
	for i := range seen {
		seen[i] = binary.LittleEndian.Uint64(raw[off:])
		off += 8
	}

	b.cmsMu.Lock()
	b.cms = *cms
	b.seen = seen
	b.inserted = inserted
	b.recent.Store(recent)
	b.recentCold.Store(recentCold)
	b.paced.Store(paced)
	b.pacedCold.Store(pacedCold)
	b.everServed.Store(everServed)
	b.coldMax, b.coldHistN, b.coldHist = max(coldMax, b.ColdMax), coldHistN, coldHist
	b.cmsMu.Unlock()
	return nil
}

// SnapshotSavedAt returns when snapshot p was saved, as its header says
// (false if p has none): how old what a restart starts from is.
func SnapshotSavedAt(p []byte) (time.Time, bool) {
	if len(p) < snapHeader || string(p[:8]) != snapMagic {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(p[20:]))), true
}

// Popularity is what a Behaviour has learnt of popularity, for an
// operator (and a test) to see whether a start is cold.
type Popularity struct {
	// Served: records served since start (or since the snapshot restored
	// was started).
	Served uint64
	// Paced: recent responses to people at a person's pace.
	Paced uint64
	// Warm: the sketch has seen ColdWarmup records, so cold means
	// something.
	Warm bool
	// PeopleMeasured: people's cold share is a measure, not the assumed
	// one.
	PeopleMeasured bool
}

// Popularity returns what b has learnt of popularity.
func (b *Behaviour) Popularity() Popularity {
	_, measured := b.people()
	return Popularity{Served: b.everServed.Load(), Paced: b.paced.Load(), Warm: b.warm(), PeopleMeasured: measured}
}
