package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// flood writes n fresh actors, each with a state of size bytes, in
// flushes of 10,000, last seen one millisecond apart from start.
func flood(t *testing.T, s *Store, from, n, size int, start time.Time) {
	t.Helper()
	data := make([]byte, size)
	for i := 0; i < n; i += 10_000 {
		var b Batch
		for a := i; a < min(i+10_000, n); a++ {
			b.Actors = append(b.Actors, memory.Saved{Key: identity.Key{Kind: identity.IP, Hash: uint64(from + a + 1)},
				Last: start.Add(time.Duration(from+a) * time.Millisecond).UnixNano(), Data: data})
		}
		b.Now = start
		if err := s.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// state.db holds at most MaxActors actors however many a flood brings: the
// least recently seen go, the newest stay, and the count survives a
// reopen without walking the file.
func TestStoreBoundedByMaxActors(t *testing.T) {
	dir := t.TempDir()
	meta := Meta{Windows: []time.Duration{time.Hour}, Entities: []string{"user"}}
	s, _, err := Open(dir, meta, Options{MaxActors: 5_000})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	flood(t, s, 0, 20_000, 100, start)
	if n := s.Actors(); n != 5_000 {
		t.Fatalf("%d actors kept, want the bound of 5,000", n)
	}
	if s.Trimmed() != 15_000 {
		t.Fatalf("trimmed %d, want 15,000", s.Trimmed())
	}
	if s.Load(identity.Key{Kind: identity.IP, Hash: 1}) != nil {
		t.Fatal("the least recently seen actor is still kept")
	}
	if s.Load(identity.Key{Kind: identity.IP, Hash: 20_000}) == nil {
		t.Fatal("the most recently seen actor was dropped")
	}
	// An actor seen again moves to the young end of the index.
	flood(t, s, 15_000, 1, 100, start.Add(time.Hour))
	flood(t, s, 20_000, 4_999, 100, start)
	if s.Load(identity.Key{Kind: identity.IP, Hash: 15_001}) == nil {
		t.Fatal("an actor seen again was trimmed as if old")
	}
	s.Close()
	s, rec, err := Open(dir, meta, Options{MaxActors: 1_000}) // a lower bound applies at once
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rec.Actors != 5_000 || s.Actors() != 1_000 {
		t.Fatalf("reopened: found %d, kept %d; want 5,000 then 1,000", rec.Actors, s.Actors())
	}
	// Expiry goes by the same index.
	if n, err := s.Expire(start.Add(30*time.Minute).UnixNano(), start.UnixNano(), 100_000); err != nil || n != 999 || s.Actors() != 1 {
		t.Fatalf("expired %d (%v), %d left; want all but the one seen an hour later", n, err, s.Actors())
	}
}

// After a flood is trimmed or expired, bbolt keeps the flood's pages as
// free space in the file, and maps the whole file. Open compacts such a
// file, so a restart maps the live data only.
func TestStoreCompactsAfterAFlood(t *testing.T) {
	dir := t.TempDir()
	meta := Meta{Windows: []time.Duration{time.Hour}, Entities: []string{"user"}}
	s, _, err := Open(dir, meta, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	flood(t, s, 0, 50_000, 400, start)
	flood(t, s, 1_000_000, 1_000, 200, start.Add(time.Hour)) // the live ones
	if _, err := s.Expire(start.Add(30*time.Minute).UnixNano(), start.UnixNano(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := filepath.Join(dir, "state.db")
	before := fileSize(t, path)
	s, rec, err := Open(dir, meta, Options{MinCompact: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, path)
	t.Logf("state.db %d KiB with 50,000 expired and 1,000 live actors; %d KiB after compaction (%s)", before>>10, after>>10, rec.Compacted)
	if rec.Compacted == "" || after > before/5 {
		t.Fatalf("not compacted: %d -> %d bytes (%q)", before, after, rec.Compacted)
	}
	if rec.Actors != 1_000 || s.Load(identity.Key{Kind: identity.IP, Hash: 1_000_001}) == nil {
		t.Fatalf("compaction lost live actors: %d", rec.Actors)
	}
	s.Close()
	// A file with little free space is left alone.
	if _, rec, err = Open(dir, meta, Options{MinCompact: 1 << 20}); err != nil || rec.Compacted != "" {
		t.Fatalf("compacted again: %q %v", rec.Compacted, err)
	}
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The canary registry's thinning drops, for every kind, the range of
// hashes a level does not keep (the conformance suite issues one kind);
// its size and level survive a reopen, and a file written before they
// were kept is counted once at Open.
func TestCanaryRegistryThinsEveryKind(t *testing.T) {
	dir := t.TempDir()
	meta := Meta{Windows: []time.Duration{time.Hour}, Entities: []string{"user"}}
	s, _, err := Open(dir, meta, Options{MaxCanaries: 300})
	if err != nil {
		t.Fatal(err)
	}
	var xs []canary.Issued
	for _, kind := range []records.Kind{records.Phone, records.Email, records.BankCard} {
		for i := 0; i < 500; i++ {
			xs = append(xs, canary.Issued{Kind: kind, Hash: uint64(i+1) * 0x9e3779b97f4a7c15, At: 1})
		}
	}
	if err := s.Write(Batch{Canaries: xs, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	level, n := s.CanaryLevel(), s.CanaryCount()
	if n > 300 || n < 75 || level == 0 || s.canaries != n {
		t.Fatalf("1,500 receipts into a bound of 300: %d kept at level %d (counted %d)", n, level, s.canaries)
	}
	for _, x := range xs {
		if _, found := s.Canary(x.Kind, x.Hash); found != KeepsCanary(level, x.Hash) {
			t.Fatalf("kind %d hash %x: kept %v at level %d", x.Kind, x.Hash, found, level)
		}
	}
	s.Close()
	// A file from before the count was kept: Open counts it once.
	db, err := openBolt(filepath.Join(dir, "state.db"), dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete([]byte("canaries_n")) })
	db.Close()
	s, _, err = Open(dir, meta, Options{MaxCanaries: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.CanaryLevel() != level || s.canaries != n {
		t.Fatalf("reopened: level %d, %d receipts; want %d, %d", s.CanaryLevel(), s.canaries, level, n)
	}
}
