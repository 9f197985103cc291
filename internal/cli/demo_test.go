package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/demo"
)

// The demo, short, as CI's live check of protection by default: a
// routes-only config (no budgets) in front of the shop, shoppers behind
// shared NAT addresses (a third signed in), and every scraper class that
// took everything from such a config before. Each class is held under its
// bound and no shopper is refused. This runs the same wiring as
// `leakguard demo`.
//
// The run ends once the classes that must be refused were, at 12 s at the
// earliest and 60 s at the latest: a fixed 12 s under CI's load let
// cookie-churn make a fifth of its requests, too few to be refused
// (2026-12-03), where a run sized by the clock alone fails on a slow
// machine and one sized by the traffic does not. Not 36 s: the partner
// syncs for a third of the run before it harvests, and under CI's load
// it had 329 of the 400 records its own budget trips at by then
// (2026-12-03).
func TestDemoShortContainsEveryClassAndSparesShoppers(t *testing.T) {
	var out bytes.Buffer
	c := &DemoCommand{Stdout: &out, Stderr: &out}
	if err := c.ParseFlags([]string{"--duration", "60s", "--every", "1h", "--shoppers", "90", "--nats", "2", "--think", "1s", "--scraper-rate", "80"}); err != nil {
		t.Fatal(err)
	}
	mustContain := []string{"naive", "cookie-churn", "partner-turns"}
	c.Enough = func(scores []*demo.Score, elapsed time.Duration) bool {
		if elapsed < 12*time.Second {
			return false
		}
		for _, s := range scores {
			if _, ok := s.Contained(); !ok && slices.Contains(mustContain, s.Name) {
				return false
			}
		}
		return true
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	scores := map[string]*demo.Score{}
	for _, s := range c.Traffic.Scores {
		scores[s.Name] = s
	}
	shoppers := scores["shoppers"]
	if shoppers.Requests.Load() < 100 {
		t.Fatalf("shoppers made only %d requests: the demo did not run", shoppers.Requests.Load())
	}
	if n := scores["shoppers"].Refused.Load(); n != 0 {
		t.Errorf("%d shoppers' requests refused: false positives", n)
	}
	// The office's people share their addresses with office-churn and
	// office-paged, whose young sessions are held: a person arriving
	// there while the churner runs may lose their visit's first calls,
	// the price docs/default-policy.md states: none past its first 5 s,
	// as the simulator's tests of people beside churners bound it
	// (TestBenchNATChurnHoldsOnlyItsOwnAddress). Those also bound a
	// session to two calls; this run's visits, at a second's thought
	// (--think 1s), can make five or more record calls in their first 5 s
	// (a landing widget's, items' reviews, one in ten the person's
	// profile, one in six a reviewer; Traffic.shopper), and it failed on
	// three in one session, none past its first 5 s, with a build beside
	// it (2026-12-07). It shows 45-72 s into a run; under CI's load this
	// run lasted 48-54 s, and failed on 1 and 3 such requests
	// (2026-12-07). Any other refusal of the office's is a false positive.
	office := scores["office"]
	switch r := office.Refusals(); {
	case r.Late > 0:
		t.Errorf("%d office requests refused in %d sessions, %d of them past their visit's first 5 s, at most %d in one: want none past", office.Refused.Load(), r.Sessions, r.Late, r.Most)
	case r.Sessions > 0:
		t.Logf("%d office requests refused in %d sessions, in their visits' first 5 s (the known price beside a churner on their address)", office.Refused.Load(), r.Sessions)
	}
	// Bounds from issue 13 (live, 90 s there; 12 s here, so a class that
	// is not stopped shows as one that took more than it should, not as
	// one that ran out of time). page-crew, the crew that loads pages
	// around its calls, and slow-crew, the crew at a person's pace, are
	// measured but not bound: they are recruited only once what people
	// are shown is measurably warmer than what they take
	// (docs/default-policy.md).
	for name, bound := range map[string]int64{"naive": 300, "review-sweep": 400, "fast-session": 400, "account-crew": 2000, "swarm": 2000, "cookie-churn": 2000, "partner-turns": 1000} {
		s := scores[name]
		if s == nil {
			t.Fatalf("no %s in the demo", name)
		}
		if s.Requests.Load() < 10 {
			t.Errorf("%s made %d requests: it did not run", name, s.Requests.Load())
			continue
		}
		if got := s.Records.Load(); got > bound {
			t.Errorf("%s took %d records, want at most %d", name, got, bound)
		}
	}
	// A churner at its 10-30 req/s takes under 2,000 in 12 s refused or
	// not; before its young sessions were followed together it was never
	// refused at all. The partner is refused once it harvests, a third
	// of the way into --duration. (nat-churn, among the people of a
	// carrier NAT, is held a minute on, once its script-only sessions
	// are seen to die young: past this test's length.)
	for _, name := range mustContain {
		if _, ok := scores[name].Contained(); !ok {
			t.Errorf("%s was never refused", name)
		}
	}
	if !strings.Contains(out.String(), "contained at") {
		t.Error("scoreboard does not say the scraper was contained")
	}
}

func TestDemoFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"--duration", "0s"}, {"--nats", "0"}, {"--scraper-rate", "-1"}, {"--shoppers", "2", "--nats", "5"}, {"--duration", "10s", "--scrapers-after", "10s"}, {"--scrapers-after", "-1s"}, {"--classes", "swarm,nope"}} {
		c := &DemoCommand{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		if err := c.ParseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
