package canary

import (
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

func TestReport(t *testing.T) {
	var a identity.Actor
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: 0xa}
	a.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: 0xb}
	tr := &Tracer{Values: 3_000_000, Bytes: 1 << 20, Matches: map[uint64]Issued{
		1: {Kind: records.Kind(1), Hash: 1, Actor: a, At: 1},
		2: {Kind: records.Kind(1), Hash: 2, Actor: a, At: 2},
	}}
	r := tr.Report(15_000)
	if r.Found != 2 || r.Registry != 15_000 || r.Bytes != 1<<20 || len(r.Recipients) != 1 || r.Recipients[0].Canaries != 2 {
		t.Fatalf("report: %+v", r)
	}
	// 3M values against 15,000 canaries of 1.5e8: 300 by chance.
	if r.Chance != 300 || r.NotChance() != 3002 {
		t.Errorf("chance %v, not chance from %d", r.Chance, r.NotChance())
	}
	if got := r.Recipients[0].Names(); got != "account:"+a.Keys[identity.Account].String()[len("account:"):]+" ip:"+a.Keys[identity.IP].String()[len("ip:"):] {
		t.Errorf("names %q", got)
	}
	// An unknown registry stays unknown in the report; the chance is worked
	// out against a generous stand-in.
	if u := tr.Report(-1); u.Registry != -1 || u.Chance != ExpectedChance(3_000_000, 2000) {
		t.Errorf("unknown registry: %+v", u)
	}
	if (Report{}).NotChance() != 2 {
		t.Error("at least two matches are needed")
	}
}

func TestReportWriteText(t *testing.T) {
	var b strings.Builder
	Report{Bytes: 3 << 20, Values: 1234567, Chance: 0.5}.WriteText(&b, 2, 1500*time.Millisecond, "registry: 9 issued")
	for _, want := range []string{"2 input(s), 3.0 MiB, 1,234,567 personal values scanned in 1.5s; 0 canaries found (registry: 9 issued)", "no canaries", "so 7 or more matches"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
}
