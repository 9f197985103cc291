package engine

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// partnerBudget is the allowlisted budget the partner tests hold a
// partner to: 400 users in 10 minutes per address.
var partnerBudget = Budget{ID: "allowlisted/user/ip/10m", Entity: "user", Per: identity.IP, Window: 10 * time.Minute, Limit: 400, Action: Block, BlockFor: time.Hour, Allowlisted: true}

// partnerEngine is an engine over a memory meter with budget b alone,
// decisions to decide (nil: none kept).
func partnerEngine(tb testing.TB, b Budget, decide func(Decision)) *Engine {
	tb.Helper()
	m := memory.New(memory.Options{Windows: []time.Duration{10 * time.Minute, time.Hour}, Entities: 1, ExactUpTo: 128, MaxActors: 100000})
	e, err := New(m, Options{Entities: []string{"user"}, Budgets: []Budget{b}, OnDecision: decide})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestAPartnerThatJumpsFarAboveItsOwnNormalIsStopped: a partner that
// synced some 30 profiles in 10 minutes for days and turns harvester at
// 300 stayed under the allowlisted budget's 400, and took 43,000 a day
// unseen (a red team's log replay, 2026-12-07). Once a day of its history
// is known it is held to 4 times its own most in 10 minutes. Controls: the
// same jump on its first day, a partner that keeps to its normal (with
// busier and quieter hours, and a weekly sync of 3 times it), and one
// whose normal is 150 that rises to 280.
func TestAPartnerThatJumpsFarAboveItsOwnNormalIsStopped(t *testing.T) {
	for _, tc := range []struct {
		name           string
		normal, jumpTo int // records in 10 minutes
		jumpAt         time.Duration
		days           int
		weekly         bool
		stopped        bool
	}{
		{"30 a day and more, then 300", 30, 300, 50 * time.Hour, 3, false, true},
		{"30 for a week, then 240", 30, 240, 7*24*time.Hour + 5*time.Hour, 8, false, true},
		{"30, then 300 on its first day", 30, 300, 10 * time.Hour, 1, false, false},
		{"30 for 8 days, a weekly sync at 90", 30, 0, 0, 9, true, false},
		{"150, then 280", 150, 280, 50 * time.Hour, 3, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var decisions []Decision
			e := partnerEngine(t, partnerBudget, func(d Decision) { decisions = append(decisions, d) })
			partner := actor(7, 0)
			rng := rand.New(rand.NewPCG(1, 2))
			end := time.Duration(tc.days) * 24 * time.Hour
			var refused int
			var firstRefused time.Duration = -1
			id := uint64(1)
			for at := time.Duration(0); at < end; {
				rate := tc.normal
				hour := int(at/time.Hour) % 24
				switch {
				case tc.jumpTo > 0 && at >= tc.jumpAt:
					rate = tc.jumpTo
				case tc.weekly && at/(24*time.Hour) == 7 && hour == 3:
					rate = tc.normal * 3
				case hour < 6:
					rate = tc.normal / 3 // quieter at night
				}
				// rate records in 10 minutes, at random moments
				at += time.Duration(rng.ExpFloat64() * float64(10*time.Minute) / float64(rate))
				now := t0.Add(at)
				if v := e.Admit(now, partner, "GET /api/users/{id}", detect.Allowlisted, false); v.Enforced() {
					refused++
					if firstRefused < 0 {
						firstRefused = at
					}
					continue
				}
				e.Observe(now, partner, Exchange{Records: []records.Found{{Entity: 0, Hash: id}}, Signals: detect.Allowlisted})
				id++
			}
			switch {
			case tc.stopped && (firstRefused < tc.jumpAt || firstRefused > tc.jumpAt+30*time.Minute):
				t.Fatalf("first refused %v, want within 30 minutes of the jump at %v (decisions %+v)", firstRefused, tc.jumpAt, decisions)
			case !tc.stopped && refused > 0:
				t.Fatalf("%d refused, the first at %v: %+v", refused, firstRefused, decisions[0])
			case tc.stopped:
				d := decisions[0]
				if !strings.HasSuffix(d.Rule, ownNormalSuffix) || d.Normal < uint64(tc.normal) || d.Normal > uint64(3*tc.normal) || d.Limit != 4*d.Normal {
					t.Fatalf("decision %+v: want rule %s%s, its normal near %d and 4 times it the limit", d, partnerBudget.ID, ownNormalSuffix, tc.normal)
				}
			}
		})
	}
}

// A partner's own limit is never below an eighth of the written one, nor
// above it; a partner that took nothing for a week has no normal.
func TestAPartnersOwnLimitStaysWithinItsBounds(t *testing.T) {
	var o ownNormals
	k := identity.Key{Kind: identity.IP, Hash: 9}
	at := func(h int64) int64 { return h * hourNs }
	for h := int64(0); h < 30; h++ {
		o.note(k, 0, at(h), 2)
	}
	if lim, normal := o.limit(k, 0, at(30), 400); lim != 50 || normal != 2 {
		t.Errorf("a normal of 2: limit %d (normal %d), want 50, an eighth of 400", lim, normal)
	}
	if lim, _ := o.limit(k, 0, at(30), 4); lim != 4 {
		t.Errorf("written 4: limit %d, want 4 (never above the written)", lim)
	}
	if lim, normal := o.limit(k, 0, at(30+ownNormalHours), 400); lim != 400 || normal != 0 {
		t.Errorf("a week after its last take: limit %d (normal %d), want the written 400", lim, normal)
	}
	if lim, normal := o.limit(identity.Key{Kind: identity.IP, Hash: 10}, 0, at(30), 400); lim != 400 || normal != 0 {
		t.Errorf("a key never seen: limit %d (normal %d)", lim, normal)
	}
}

// A sanction a partner's own normal decided is shared and restored under
// its budget: its rule's suffix names the decision, not a budget.
func TestAnOwnNormalSanctionIsImposedElsewhere(t *testing.T) {
	h := newHarness(t, false, Budget{ID: "allowlisted/user/ip/10m", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 400, Action: Block, BlockFor: time.Hour, Allowlisted: true})
	k := identity.Key{Kind: identity.IP, Hash: 7}
	if !h.e.Impose(t0.UnixNano(), Sanction{Key: k, Rule: "allowlisted/user/ip/10m" + ownNormalSuffix, Action: Block, Until: t0.Add(time.Hour).UnixNano()}) {
		t.Fatal("not imposed")
	}
	if v := h.e.Admit(t0.Add(time.Minute), actor(7, 0), "GET /u/{id}", detect.Allowlisted, false); v.Action != Block {
		t.Fatalf("verdict %+v, want the imposed block", v)
	}
}

// A proxy deployed every day never held a day of a partner's history, so
// never its own normal: the partner's histories are kept across a restart
// (state), and a partner that turns harvester right after one is stopped
// as it would have been. Controls: a restart that restores nothing, and a
// snapshot of a config whose budget is gone.
func TestAPartnersNormalOutlivesARestart(t *testing.T) {
	budget, renamed := partnerBudget, partnerBudget
	renamed.ID = "partners/user/ip/10m"
	start := func(b Budget) *Engine { return partnerEngine(t, b, nil) }
	partner := actor(7, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	id := uint64(1)
	// run has the partner take rate records in 10 minutes from from to to,
	// and returns when it was first refused (-1: never).
	run := func(e *Engine, from, to time.Duration, rate int) time.Duration {
		for at := from; at < to; {
			at += time.Duration(rng.ExpFloat64() * float64(10*time.Minute) / float64(rate))
			now := t0.Add(at)
			if e.Admit(now, partner, "GET /api/users/{id}", detect.Allowlisted, false).Enforced() {
				return at
			}
			e.Observe(now, partner, Exchange{Records: []records.Found{{Entity: 0, Hash: id}}, Signals: detect.Allowlisted})
			id++
		}
		return -1
	}
	first := start(budget)
	if at := run(first, 0, 48*time.Hour, 30); at >= 0 {
		t.Fatalf("the partner at its normal refused at %v", at)
	}
	snap := first.Partners()
	jump := 48*time.Hour + 10*time.Minute
	for _, tc := range []struct {
		name     string
		budget   Budget
		restore  bool
		restored int
		stopped  bool
	}{
		{"restored", budget, true, 1, true},
		{"not restored", budget, false, 0, false},
		{"its budget renamed since", renamed, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(tc.budget)
			if tc.restore {
				n, err := e.RestorePartners(snap)
				if err != nil || n != tc.restored {
					t.Fatalf("restored %d (%v), want %d", n, err, tc.restored)
				}
			}
			// What the admin API lists of it (/api/policy's partners):
			// its normal, some 30 in 10 minutes, and 4 times that.
			switch ns := e.PartnerNormals(t0.Add(jump)); {
			case tc.restored == 0 && len(ns) != 0:
				t.Fatalf("nothing restored, and %+v listed", ns)
			case tc.restored > 0 && (len(ns) != 1 || ns[0].OwnNormal < 30 || ns[0].OwnNormal > 60 || ns[0].Limit != 4*ns[0].OwnNormal || !ns[0].Since.Equal(t0) || ns[0].Key != partner.Keys[identity.IP].String()):
				t.Fatalf("listed %+v", ns)
			}
			at := run(e, jump, jump+2*time.Hour, 300)
			switch stopped := at >= 0 && at < jump+30*time.Minute; {
			case stopped != tc.stopped:
				t.Fatalf("harvesting after the restart: first refused at %v (jump at %v), want stopped within 30 minutes: %v", at, jump, tc.stopped)
			case tc.restored > 0 && string(e.Partners()) == string(snap):
				t.Fatal("the restored history did not go on")
			}
		})
	}
	// Kept again, a restored history reads the same.
	again := start(budget)
	if _, err := again.RestorePartners(snap); err != nil {
		t.Fatal(err)
	}
	if got := again.Partners(); string(got) != string(snap) {
		t.Fatalf("a restored history kept again differs: %d bytes, %d before", len(got), len(snap))
	}
	if first.PartnersChanged() == 0 {
		t.Fatal("no change counted")
	}
}

// A snapshot of the partners' histories is read from state, which a
// damaged disk or a hostile Redis writer can change: whatever it holds, it
// is read whole or not at all, and never panics.
func FuzzRestorePartners(f *testing.F) {
	start := func(tb testing.TB) *Engine { return partnerEngine(tb, partnerBudget, nil) }
	seed := start(f)
	seed.Observe(t0, actor(7, 0), Exchange{Records: []records.Found{{Entity: 0, Hash: 1}}, Signals: detect.Allowlisted})
	f.Add(seed.Partners())
	f.Add([]byte(partnersMagic))
	f.Add([]byte("lgown1\n\x01\x17allowlisted/user/ip/10m\x01"))
	f.Fuzz(func(t *testing.T, p []byte) {
		e := start(t)
		n, err := e.RestorePartners(p)
		if err != nil && n != 0 {
			t.Fatalf("%d restored with an error: %v", n, err)
		}
		if _, err := start(t).RestorePartners(e.Partners()); err != nil {
			t.Fatalf("what was restored does not read back: %v", err)
		}
	})
}
