package redis

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
)

func TestSanctionMessages(t *testing.T) {
	x := engine.Sanction{Key: identity.Key{Kind: identity.Crew, Hash: 0xabc}, Rule: "risk>=5", Action: engine.Challenge, Until: 1_800_000_000_000_000_000}
	got, unblock, ok := decodeSanction(encodeSanction(x))
	if !ok || unblock || got != x {
		t.Fatalf("round trip: %+v %v %v", got, unblock, ok)
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
	f.Fuzz(func(t *testing.T, msg string) {
		x, unblock, ok := decodeSanction(msg)
		if ok && !unblock {
			if again, _, ok2 := decodeSanction(encodeSanction(x)); !ok2 || again != x {
				t.Fatalf("%q: re-encoded %+v does not decode back", msg, x)
			}
		}
	})
}
