package decisionlog

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The decision log's shape is a contract with operators' tooling: pinned by a golden file.
func TestDecisionLineGolden(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) })
	var a identity.Actor
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 0x1122334455667788}
	a.Keys[identity.Fingerprint] = identity.Key{Kind: identity.Fingerprint, Hash: 0xaabbccddeeff0011}
	at := time.Date(2026, 5, 1, 11, 59, 0, 0, time.UTC)
	for _, shadow := range []bool{false, true} {
		l.Decision(engine.Decision{Time: at, Rule: "user/ip/1h", Action: engine.Block, Shadow: shadow, Key: a.Keys[identity.IP],
			Actor: a, Route: "GET /api/users/{id}", Entity: "user", Count: 300, Limit: 300, Window: time.Hour, Until: at.Add(time.Hour)})
	}
	// A risk band: no entity or window, the score against the band.
	l.Decision(engine.Decision{Time: at, Rule: "risk>=5", Action: engine.Challenge, Key: a.Keys[identity.IP], Actor: a,
		Route: "GET /api/users/{id}", Count: 6, Limit: 5, Until: at.Add(10 * time.Minute), Signals: detect.AutomationUA | detect.Sessionless, Score: 6})
	l.Operator("unblock")
	golden := "testdata/decisions.golden.jsonl"
	if *update {
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("decision lines changed:\n%s\nwant:\n%s", buf.Bytes(), want)
	}
}
