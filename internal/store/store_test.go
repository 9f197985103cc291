package store

import (
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

var meta = Meta{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: []string{"user", "phone"}}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, rec, err := Open(dir, meta, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Actors != 0 || rec.Reset != "" {
		t.Fatalf("fresh store recovered %+v", rec)
	}
	now := time.Unix(1_800_000_000, 0)
	a := identity.Key{Kind: identity.IP, Hash: 42}
	b := identity.Key{Kind: identity.Account, Hash: 7}
	err = s.Write(Batch{
		Actors: []memory.Saved{{Key: a, Last: now.UnixNano(), Data: []byte("state-a")}, {Key: b, Last: now.Add(-48 * time.Hour).UnixNano(), Data: []byte("state-b")}},
		Sanctions: []engine.Sanction{
			{Key: a, Rule: "user/ip/1h", Action: engine.Block, Until: now.Add(time.Hour).UnixNano()},
			{Key: b, Rule: "user/account/1d", Action: engine.Throttle, Until: now.Add(-time.Minute).UnixNano()},
		},
		Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Load(a)); got != "state-a" {
		t.Fatalf("Load = %q", got)
	}
	if s.Load(identity.Key{Kind: identity.IP, Hash: 1}) != nil {
		t.Fatal("Load of an unknown key returned state")
	}
	s.Close()

	s, rec, err = Open(dir, meta, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rec.Actors != 2 || rec.Sanctions != 2 || !rec.LastFlush.Equal(now) {
		t.Fatalf("recovered %+v", rec)
	}
	sans, err := s.Sanctions(now.UnixNano())
	if err != nil || len(sans) != 1 || sans[0].Key != a || sans[0].Rule != "user/ip/1h" || sans[0].Action != engine.Block {
		t.Fatalf("sanctions in force = %+v, %v", sans, err)
	}
	// Expiry: b was last seen 48h ago, past a 25h retention.
	n, err := s.Expire(now.Add(-25*time.Hour).UnixNano(), now.UnixNano(), 1000)
	if err != nil || n != 1 || s.Load(b) != nil || s.Load(a) == nil {
		t.Fatalf("expired %d (%v); b=%q a=%q", n, err, s.Load(b), s.Load(a))
	}
	// Unblock removes a key's sanctions.
	if err := s.Write(Batch{Unblocked: []identity.Key{a}, Now: now}); err != nil {
		t.Fatal(err)
	}
	if sans, _ := s.Sanctions(now.UnixNano()); len(sans) != 0 {
		t.Fatalf("after unblock: %+v", sans)
	}
}

func TestStoreDiscardsStateOfAnotherConfig(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := Open(dir, meta, Options{})
	k := identity.Key{Kind: identity.IP, Hash: 42}
	s.Write(Batch{Actors: []memory.Saved{{Key: k, Last: 1, Data: []byte("x")}},
		Sanctions: []engine.Sanction{{Key: k, Rule: "r", Action: engine.Block, Until: 1 << 62}}, Now: time.Now()})
	s.Close()
	other := Meta{Windows: []time.Duration{time.Hour}, Entities: []string{"user", "phone"}}
	s, rec, err := Open(dir, other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(rec.Reset, "discarded") || rec.Actors != 0 || rec.Sanctions != 1 || s.Load(k) != nil {
		t.Fatalf("recovered %+v", rec)
	}
}

func TestStoreLockedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, meta, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := Open(dir, meta, Options{}); err == nil || !strings.Contains(err.Error(), "another leakguard") {
		t.Fatalf("second open: %v", err)
	}
}

// Allowlist entries added at run time are kept across a restart, masked
// and without duplicates.
func TestStoreKeepsRunTimeAllowlist(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, meta, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"198.51.100.20/32", "192.0.2.77/24", "192.0.2.0/24", "2001:db8::/48"} {
		if err := s.AddAllow(netip.MustParsePrefix(p), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, _, err = Open(dir, meta, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Allows()
	var names []string
	for _, p := range got {
		names = append(names, p.String())
	}
	sort.Strings(names)
	if err != nil || strings.Join(names, " ") != "192.0.2.0/24 198.51.100.20/32 2001:db8::/48" {
		t.Fatalf("allows after restart: %v %v", names, err)
	}
}

// A flush in key order keeps, of the states one key has in a batch, the
// last: a retried flush's come before those drained since.
func TestInKeyOrderKeepsTheNewestOfAKey(t *testing.T) {
	var in []memory.Saved
	for i := range 200 {
		k := identity.Key{Kind: identity.Kind(i % 3), Hash: uint64(i % 7)}
		in = append(in, memory.Saved{Key: k, Last: int64(i)})
	}
	out := inKeyOrder(in)
	if len(out) != 21 {
		t.Fatalf("%d states, want one for each of the 21 keys", len(out))
	}
	for i, s := range out {
		if i > 0 && (s.Key.Kind < out[i-1].Key.Kind || s.Key.Kind == out[i-1].Key.Kind && s.Key.Hash <= out[i-1].Key.Hash) {
			t.Fatalf("out of key order at %d: %v after %v", i, s.Key, out[i-1].Key)
		}
		newest := int64(-1)
		for j, x := range in {
			if x.Key == s.Key {
				newest = int64(j)
			}
		}
		if s.Last != newest {
			t.Errorf("%v: state %d kept, want the newest, %d", s.Key, s.Last, newest)
		}
	}
}
