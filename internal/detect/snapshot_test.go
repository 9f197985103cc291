package detect

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// snapPeople has people browse at a person's pace (a page, then a record
// call, every five seconds), each from an address of its own, over a
// catalogue of popular records, until people's cold share is measured.
func snapPeople(t *testing.T, b *Behaviour) {
	t.Helper()
	const calls, catalogue = 6, 200
	for i := 0; i < 10*minPaced; i++ {
		if _, measured := b.people(); measured && b.warm() {
			return
		}
		k := identity.Key{Kind: identity.Session, Hash: mix(uint64(i) + 1<<41)}
		o := origin{addr: mix(uint64(i) + 1<<42)}
		for c := range calls {
			at := epoch + int64(c)*5e9
			b.signals(k, o, at-1e9, false, true, -1)
			b.signals(k, o, at, true, false, -1)
			b.Served(k, o, []records.Found{{Hash: mix(uint64((i*calls + c) % catalogue))}})
		}
	}
	t.Fatalf("people not measured after %d people (paced %d, served %d)", 10*minPaced, b.paced.Load(), b.everServed.Load())
}

// snapCrewCalls is how many record calls a crew member at a person's
// brisk API pace (a call every five seconds, no pages, four cold records
// each) makes before it shows the evidence a crew is recruited on.
func snapCrewCalls(b *Behaviour) int {
	k := identity.Key{Kind: identity.Session, Hash: mix(0xc4e3)}
	o := origin{addr: mix(0xadd4)}
	for c := range 64 {
		_, ev := b.signals(k, o, epoch+int64(time.Hour)+int64(c)*5e9, true, false, -1)
		if ev.apiSweep {
			return c
		}
		var recs []records.Found
		for j := range 4 {
			recs = append(recs, records.Found{Hash: mix(uint64(1<<50 + 4*c + j))})
		}
		b.Served(k, o, recs)
	}
	return 64
}

// A tracker restored from a snapshot knows what the one saved knew: how
// many addresses were shown each record, what people are shown, and that
// the sketch is warm; so a crew at a person's pace shows its evidence as
// soon as on the tracker that was saved, not as late as on a cold start.
func TestSnapshotRoundTrip(t *testing.T) {
	saved := NewBehaviour(1 << 10)
	snapPeople(t, saved)
	popular := mix(7)
	want := saved.estimate(popular)
	if want < 2 {
		t.Fatalf("the popular record was shown to %d addresses", want)
	}
	// what people's responses set the cold threshold to (a small shop
	// that many browse), and the counts it is set from
	saved.cmsMu.Lock()
	saved.coldMax, saved.coldHistN = 4, 17
	saved.coldHist[4], saved.coldHist[coldHistLen-1] = 300, 900
	saved.cmsMu.Unlock()
	p := saved.Snapshot()
	t.Logf("snapshot: %d bytes (%d raw); %+v", len(p), snapRaw, saved.Popularity())

	if at, ok := SnapshotSavedAt(p); !ok || time.Since(at) > time.Minute || time.Since(at) < 0 {
		t.Fatalf("saved at %v (%v)", at, ok)
	}
	restored := NewBehaviour(1 << 10)
	if err := restored.Restore(p, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, measured := restored.people(); !measured || !restored.warm() {
		t.Fatalf("restored: people measured %v, warm %v (%+v)", measured, restored.warm(), restored.Popularity())
	}
	if got := restored.estimate(popular); got != want {
		t.Fatalf("restored estimate %d, want %d", got, want)
	}
	if restored.PacedColdShare() != saved.PacedColdShare() || restored.ColdShare() != saved.ColdShare() || restored.inserted != saved.inserted {
		t.Fatalf("shares %v %v, inserted %d; saved %v %v, %d", restored.PacedColdShare(), restored.ColdShare(), restored.inserted,
			saved.PacedColdShare(), saved.ColdShare(), saved.inserted)
	}
	// Without them a restarted proxy judged keys at ColdMax against
	// people's share measured at 4 (a review, 2026-12-02).
	if restored.coldMax != saved.coldMax || restored.coldHistN != saved.coldHistN || restored.coldHist != saved.coldHist {
		t.Fatalf("restored cold threshold %d (%d, %v), saved %d (%d, %v)", restored.coldMax, restored.coldHistN, restored.coldHist,
			saved.coldMax, saved.coldHistN, saved.coldHist)
	}
	if restored.Popularity() != saved.Popularity() {
		t.Fatalf("restored %+v, saved %+v", restored.Popularity(), saved.Popularity())
	}
	// The pairs seen count once still: an address shown a record before
	// the restart does not warm it again.
	k, o := identity.Key{Kind: identity.Session, Hash: mix(1 << 41)}, origin{addr: mix(1 << 42)}
	restored.Served(k, o, []records.Found{{Hash: mix(0)}})
	saved.Served(k, o, []records.Found{{Hash: mix(0)}})
	if restored.estimate(mix(0)) != saved.estimate(mix(0)) {
		t.Fatalf("a pair seen before the restart counted again: %d, saved %d", restored.estimate(mix(0)), saved.estimate(mix(0)))
	}

	cold, warm, again := snapCrewCalls(NewBehaviour(1<<10)), snapCrewCalls(restored), snapCrewCalls(saved)
	t.Logf("a paced crew member's evidence after %d calls on a cold start, %d restored, %d on the tracker saved", cold, warm, again)
	if warm != again || warm >= cold {
		t.Fatalf("evidence after %d calls restored, %d saved, %d cold", warm, again, cold)
	}
}

// snapReseal replaces a snapshot's checksum with the one of its content.
func snapReseal(p []byte) []byte {
	p = append([]byte(nil), p...)
	sum := sha256.Sum256(p[:len(p)-sha256.Size])
	copy(p[len(p)-sha256.Size:], sum[:])
	return p
}

func TestSnapshotRefusals(t *testing.T) {
	src := NewBehaviour(1 << 10)
	snapPeople(t, src)
	good := src.Snapshot()
	now := time.Now()
	edit := func(f func(p []byte)) []byte {
		p := append([]byte(nil), good...)
		f(p)
		return p
	}
	for _, tc := range []struct {
		name string
		p    []byte
		now  time.Time
		want error
	}{
		{"empty", nil, now, ErrSnapshotCorrupt},
		{"truncated header", good[:snapHeader-1], now, ErrSnapshotCorrupt},
		{"truncated body", good[:len(good)/2], now, ErrSnapshotCorrupt},
		{"truncated body, resealed", snapReseal(append(append([]byte(nil), good[:snapHeader+(len(good)-snapHeader)/2]...), make([]byte, snapSum)...)), now, ErrSnapshotCorrupt},
		{"bad checksum", edit(func(p []byte) { p[len(p)-1] ^= 1 }), now, ErrSnapshotCorrupt},
		{"a flipped bit in the sketch", edit(func(p []byte) { p[snapHeader+100] ^= 0x10 }), now, ErrSnapshotCorrupt},
		{"not a snapshot", edit(func(p []byte) { copy(p, "LGPOPXX\x00") }), now, ErrSnapshotCorrupt},
		{"other version", snapReseal(edit(func(p []byte) { binary.LittleEndian.PutUint16(p[8:], snapVersion+1) })), now, ErrSnapshotMismatch},
		{"other width", snapReseal(edit(func(p []byte) { binary.LittleEndian.PutUint32(p[12:], cmsWidth/2) })), now, ErrSnapshotMismatch},
		{"other rows", snapReseal(edit(func(p []byte) { binary.LittleEndian.PutUint16(p[10:], cmsRows+1) })), now, ErrSnapshotMismatch},
		{"counters out of range", snapReseal(edit(func(p []byte) { binary.LittleEndian.PutUint64(p[28+8*4:], 1<<40) })), now, ErrSnapshotCorrupt},
		{"cold threshold out of range", snapReseal(edit(func(p []byte) { binary.LittleEndian.PutUint16(p[76:], coldHistLen) })), now, ErrSnapshotCorrupt},
		{"stale", good, now.Add(SnapshotMaxAge + time.Minute), ErrStale},
		{"from the future", good, now.Add(-SnapshotMaxAge - time.Minute), ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBehaviour(1 << 10)
			b.Served(identity.Key{}, origin{}, []records.Found{{Hash: 42}})
			before := b.Snapshot()
			err := b.Restore(tc.p, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			t.Log(err)
			after := b.Snapshot()
			// Equal but for the time saved.
			if string(before[:20]) != string(after[:20]) || string(before[28:len(before)-snapSum]) != string(after[28:len(after)-snapSum]) {
				t.Fatal("a refused snapshot changed the tracker")
			}
		})
	}
	if err := NewBehaviour(1<<10).Restore(good, now.Add(SnapshotMaxAge-time.Minute)); err != nil {
		t.Fatalf("a day-old snapshot less a minute: %v", err)
	}
}

// Restore never panics, whatever it is given: neither on bytes as they
// come (which the checksum refuses), nor on bytes resealed with their own
// checksum, which reach the header's checks and the decompressor.
func FuzzRestore(f *testing.F) {
	src := NewBehaviour(1 << 10)
	src.Served(identity.Key{}, origin{}, []records.Found{{Hash: 1}, {Hash: 2}})
	good := src.Snapshot()
	f.Add(good)
	f.Add(good[:snapHeader+snapSum])
	f.Add([]byte(snapMagic))
	b := NewBehaviour(1 << 10)
	now := time.Now()
	f.Fuzz(func(t *testing.T, p []byte) {
		_ = b.Restore(p, now)
		if len(p) >= snapSum {
			_ = b.Restore(snapReseal(p), now)
		}
	})
}

// BenchmarkSnapshot keeps and restores a busy shop's tracker: just short
// of a halving's worth of records (2^20), a catalogue of 200,000 served to
// 50,000 addresses. It reports the snapshot's size.
func BenchmarkSnapshot(bm *testing.B) {
	b := NewBehaviour(1 << 16)
	var x uint64
	for i := range 1<<20 - 1 {
		x = mix(x + uint64(i))
		b.Served(identity.Key{}, origin{addr: mix(x % 50_000)}, []records.Found{{Hash: mix((x >> 20) % 200_000)}})
	}
	p := b.Snapshot()
	bm.Run("snapshot", func(bm *testing.B) {
		for bm.Loop() {
			p = b.Snapshot()
		}
		bm.ReportMetric(float64(len(p)), "bytes")
	})
	bm.Run("restore", func(bm *testing.B) {
		into := NewBehaviour(16)
		for bm.Loop() {
			if err := into.Restore(p, time.Now()); err != nil {
				bm.Fatal(err)
			}
		}
	})
}
