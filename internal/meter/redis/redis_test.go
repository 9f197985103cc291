package redis

import (
	"fmt"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

func TestSanctionMessages(t *testing.T) {
	x := engine.Sanction{Key: identity.Key{Kind: identity.Crew, Hash: 0xabc}, Rule: "risk>=5", Action: engine.Challenge, Until: 1_800_000_000_000_000_000}
	shadow := x
	shadow.Shadow = true // decided in shadow mode: an enforcing proxy judges the key again
	for _, x := range []engine.Sanction{x, shadow} {
		got, unblock, ok := decodeSanction(encodeSanction(x))
		if !ok || unblock || got != x {
			t.Fatalf("round trip: %+v %v %v", got, unblock, ok)
		}
	}
	k, unblock, ok := decodeSanction("unblock ip:00000000000000ff")
	if !ok || !unblock || k.Key != (identity.Key{Kind: identity.IP, Hash: 255}) {
		t.Fatalf("unblock: %+v %v %v", k, unblock, ok)
	}
	for _, bad := range []string{"", "x", "ip:zz block 1 r", "ip:00000000000000ff smite 1 r", "ip:00000000000000ff block x r", "unblock nope"} {
		if _, _, ok := decodeSanction(bad); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestWindowName(t *testing.T) {
	for w, want := range map[time.Duration]string{time.Hour: "1h0m0s", 24 * time.Hour: "1d", 30 * 24 * time.Hour: "30d", 90 * time.Second: "1m30s"} {
		if got := windowName(w); got != want {
			t.Errorf("windowName(%s) = %q, want %q", w, got, want)
		}
	}
}

// Sanction messages arrive from Redis: whatever another node (or anyone
// with access to the channel) publishes must not crash a proxy.
func FuzzDecodeSanction(f *testing.F) {
	f.Add("ip:00000000000000ff block 1800000000000000000 user/ip/1h")
	f.Add("unblock crew:0000000000000abc")
	f.Add("net:00000000000000ff shadow-challenge 1800000000000000000 risk>=5")
	f.Fuzz(func(t *testing.T, msg string) {
		x, unblock, ok := decodeSanction(msg)
		if ok && !unblock {
			if again, _, ok2 := decodeSanction(encodeSanction(x)); !ok2 || again != x {
				t.Fatalf("%q: re-encoded %+v does not decode back", msg, x)
			}
		}
	})
}

// The fleet's keys are what every proxy of it, of any version, reads and
// writes: built by appending, they must be what fmt made of them.
func TestBucketKeysAreAsFormatted(t *testing.T) {
	m := New(Options{Local: memory.New(memory.Options{Windows: []time.Duration{time.Hour, 24 * time.Hour}, Entities: 2}), Entities: []string{"user", "phone"}, Prefix: "lg:"})
	for _, k := range []identity.Key{{Kind: identity.IP, Hash: 0}, {Kind: identity.Crew, Hash: 1}, {Kind: identity.Session, Hash: 0x9f2c0a1b33d4e5f6}, {Kind: identity.Fingerprint, Hash: ^uint64(0)}} {
		if got, want := k.String(), fmt.Sprintf("%s:%016x", k.Kind, k.Hash); got != want {
			t.Errorf("key %q, formatted %q", got, want)
		}
		for ent := range 2 {
			for wi := range 2 {
				for _, epoch := range []int64{0, 7, 493_776, -3} {
					want := fmt.Sprintf("%s{%s}:%s:%s:%d", "lg:", fmt.Sprintf("%s:%016x", k.Kind, k.Hash), m.o.Entities[ent], m.names[wi], epoch)
					if got := m.bucketKey(k, ent, wi, epoch); got != want {
						t.Errorf("bucket %q, formatted %q", got, want)
					}
				}
				now := int64(1_800_000_000) * 1e9
				ks := m.windowKeys(k, ent, wi, now)
				if len(ks) != memory.Buckets+1 || ks[len(ks)-1] != m.bucketKey(k, ent, wi, now/m.widths[wi]) {
					t.Errorf("window keys %v", ks)
				}
			}
		}
	}
}
