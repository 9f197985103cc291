package decisionlog

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"slices"
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
	// A member refused under a crew's sanction, enforcing then in shadow
	// (another crew); the same again writes nothing.
	crew := identity.Key{Kind: identity.Crew, Hash: 0x5ee9c4e3a11d0b17}
	a.Keys[identity.Session] = identity.Key{Kind: identity.Session, Hash: 0x0102030405060708}
	for _, shadow := range []bool{false, true, false} {
		k := crew
		if shadow {
			k.Hash++
		}
		l.Refused(at, &a, "GET /api/users/{id}", engine.Verdict{Action: engine.Challenge, Shadow: shadow, RetryAfter: 10 * time.Minute, Rule: "risk>=5", Key: k})
	}
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

type flakyWriter struct{ fail bool }

func (w *flakyWriter) Write(b []byte) (int, error) {
	if w.fail {
		return 0, errors.New("no space left on device")
	}
	return len(b), nil
}

// A decision log on a full disk lost every line, said nothing and counted
// nothing, while the decisions metric went on counting them (found by a
// probe, 2026-12-05). The owner is told once when writes fail and once
// when they work again, and the lines lost are counted.
func TestLinesThatCannotBeWrittenAreToldAndCounted(t *testing.T) {
	w := &flakyWriter{}
	l := New(w, nil)
	type told struct {
		failing bool
		lost    uint64
	}
	var got []told
	l.Failing = func(err error, lost uint64) { got = append(got, told{err != nil, lost}) }
	l.Operator("one")
	w.fail = true
	l.Operator("two")
	l.Operator("three")
	if l.Err() == nil {
		t.Error("Err is nil while writes fail")
	}
	w.fail = false
	l.Operator("four")
	if l.Err() != nil {
		t.Errorf("Err = %v once writes work again", l.Err())
	}
	want := []told{{true, 1}, {false, 2}}
	if !slices.Equal(got, want) || l.Lost() != 2 {
		t.Errorf("told %v, lost %d; want %v, 2", got, l.Lost(), want)
	}
}

// Who a crew's sanction refuses is written once a member while the
// sanction lasts, again after it, and at most maxPerCrew members of one
// crew: a churner making a fresh session a call is a member a request.
func TestRefusedUnderACrewOnceAMember(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, nil)
	crew := identity.Key{Kind: identity.Crew, Hash: 7}
	v := engine.Verdict{Action: engine.Block, RetryAfter: time.Hour, Rule: "default/user/crew/1h", Key: crew}
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	member := func(i int) *identity.Actor {
		var a identity.Actor
		a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: uint64(1000 + i)}
		return &a
	}
	lines := func() int { return bytes.Count(buf.Bytes(), []byte("\n")) }
	l.Refused(at, member(0), "", v)
	l.Refused(at.Add(time.Minute), member(0), "", v)
	if n := lines(); n != 1 {
		t.Fatalf("%d lines for one member twice within the sanction, want 1", n)
	}
	l.Refused(at.Add(61*time.Minute), member(0), "", v)
	if n := lines(); n != 2 {
		t.Fatalf("%d lines once the sanction has ended and it is refused again, want 2", n)
	}
	for i := 1; i <= maxPerCrew+10; i++ {
		l.Refused(at.Add(62*time.Minute), member(i), "", v)
	}
	if n := lines(); n != maxPerCrew {
		t.Fatalf("%d lines for %d members of one crew, want %d", n, maxPerCrew+11, maxPerCrew)
	}
}
