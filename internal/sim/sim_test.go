package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

var world = NewWorld(1, 50000, 20000)

func init() { world.User = 0 }

// unguarded is an engine with no budgets: it meters and never refuses.
func unguarded(t *testing.T) *engine.Engine {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 128, MaxActors: 100000})
	e, err := engine.New(m, engine.Options{Entities: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The shop's popularity is Zipf with s = 1.1: the top item is drawn about
// 10^1.1 ≈ 12.6 times as often as the 10th, and the top 1% of items take
// most views. A uniform world would make cold-record sweeps invisible.
func TestZipfShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, world.Shop.Items+1)
	const n = 400000
	for i := 0; i < n; i++ {
		counts[world.Zipf.Sample(rng)]++
	}
	ratio := float64(counts[1]) / float64(counts[10])
	if math.Abs(ratio-math.Pow(10, 1.1)) > 1.5 {
		t.Errorf("P(1)/P(10) = %.2f, want ≈ %.2f", ratio, math.Pow(10, 1.1))
	}
	top := 0
	for k := 1; k <= world.Shop.Items/100; k++ {
		top += counts[k]
	}
	if share := float64(top) / n; share < 0.5 || share > 0.8 {
		t.Errorf("top 1%% of items got %.0f%% of views, want 50-80%%", share*100)
	}
}

// Hundreds of shoppers share each carrier NAT address.
func TestNATSharing(t *testing.T) {
	sources, st := Legit(world, DefaultPopulation(), 1, Start.Add(time.Hour))
	perIP := map[identity.Key]map[int]bool{}
	for i, s := range sources {
		if sh, ok := s.(*shopper); ok {
			var a identity.Actor
			ipKeys(&a, sh.ip)
			if perIP[a.Keys[identity.IP]] == nil {
				perIP[a.Keys[identity.IP]] = map[int]bool{}
			}
			perIP[a.Keys[identity.IP]][i] = true
		}
	}
	for n := 0; n < DefaultPopulation().NATs; n++ {
		var a identity.Actor
		ipKeys(&a, NATAddress(n))
		if got := len(perIP[a.Keys[identity.IP]]); got < 100 {
			t.Errorf("NAT %d has %d shoppers, want hundreds", n, got)
		}
	}
	if st.Actors != DefaultPopulation().Shoppers+DefaultPopulation().Agents+2 { // + crawler + partner
		t.Errorf("actors %d", st.Actors)
	}
}

func scenario(name string) Scenario {
	for _, s := range scenarios {
		if s.Name == name {
			return s
		}
	}
	panic(name)
}

// Campaigns run at the pace the issue gives them, measured unprotected.
func TestCampaignRates(t *testing.T) {
	tests := []struct {
		name              string
		hours             int
		reqPerSec, recSec float64
	}{
		{"naive", 1, 5, 5},
		{"taobao", 2, 12.5, 53},
		{"rotating-ips", 2, 3, 3 * 7.5},
		{"account-farm", 2, 200.0 / 120, 200.0 / 120 * 7.5},
		{"low-and-slow", 2, 500.0 / 60, 500.0 / 60},
		{"phone-lookup", 2, 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end := Start.Add(time.Duration(tt.hours) * time.Hour)
			src, st := scenario(tt.name).Campaign(world, 1, end)
			Run(world, unguarded(t), detect.New(detect.Options{}), []Source{src}, end)
			secs := float64(tt.hours * 3600)
			if got := float64(st.Requests) / secs; math.Abs(got-tt.reqPerSec)/tt.reqPerSec > 0.02 {
				t.Errorf("%.2f req/s, want %.2f", got, tt.reqPerSec)
			}
			if got := float64(st.Records) / secs; math.Abs(got-tt.recSec)/tt.recSec > 0.15 {
				t.Errorf("%.1f records/s, want ≈ %.1f", got, tt.recSec)
			}
			if st.Refused != 0 || st.Records != st.Attempted {
				t.Errorf("unguarded run refused %d / took %d of %d", st.Refused, st.Records, st.Attempted)
			}
		})
	}
}

// The low-and-slow crew stays under a per-address budget by construction.
func TestLowAndSlowIsOneAMinutePerAddress(t *testing.T) {
	end := Start.Add(time.Hour)
	src, _ := scenario("low-and-slow").Campaign(world, 1, end)
	per := map[identity.Key]int{}
	for {
		r, ok := src.Next()
		if !ok {
			break
		}
		per[r.Actor.Keys[identity.IP]]++
	}
	if len(per) != 500 {
		t.Fatalf("%d addresses, want 500", len(per))
	}
	for _, n := range per {
		if n < 59 || n > 61 {
			t.Fatalf("an address made %d requests in an hour, want 60", n)
		}
	}
}

func TestDeterministic(t *testing.T) {
	run := func() (int, int) {
		end := Start.Add(6 * time.Hour)
		pop := DefaultPopulation()
		pop.Shoppers = 200
		sources, st := Legit(world, pop, 7, end)
		camp, cst := scenario("taobao").Campaign(world, 7, end)
		Run(world, unguarded(t), detect.New(detect.Options{}), append(sources, camp), end)
		return st.Records, cst.Records
	}
	a1, b1 := run()
	a2, b2 := run()
	if a1 != a2 || b1 != b2 || a1 == 0 {
		t.Fatalf("same seed, different results: %d/%d vs %d/%d", a1, b1, a2, b2)
	}
}

// TestAChurnersSessionsLoadTheirScriptsFirst pins the churn scenarios'
// sessions to what their descriptions say: each loads the home page (if
// it lands) and its scripts before any call, all on one address. Until
// 2026-12-04 each session began with the cycle before's last call, on
// the address before.
func TestAChurnersSessionsLoadTheirScriptsFirst(t *testing.T) {
	w := NewWorld(1, 50000, 20000)
	checked := 0
	for _, sc := range Scenarios() {
		if sc.make == nil {
			continue
		}
		src, _ := sc.Campaign(w, 1, Start.Add(48*time.Hour))
		c := src.(*campaign)
		if c.churn == 0 {
			continue
		}
		checked++
		t.Run(sc.Name, func(t *testing.T) {
			type seen struct {
				n  int
				ip uint32
			}
			sessions := map[uint64]*seen{}
			for range 40 * c.churn {
				r, ok := c.Next()
				if !ok {
					t.Fatal("the campaign ended")
				}
				sid := r.Actor.Keys[identity.Session].Hash
				s := sessions[sid]
				if s == nil {
					s = &seen{ip: r.IP}
					sessions[sid] = s
				}
				if s.ip != r.IP {
					t.Fatalf("session %x on %08x, then on %08x", sid, s.ip, r.IP)
				}
				if s.n > 0 && s.n >= c.churn {
					continue // a lingerer's late calls
				}
				want := -1 // a call
				switch {
				case c.churnLands && s.n == 0:
					want = RoutePage
				case s.n < c.churnAssets+c.lands():
					want = RouteAsset
				}
				if want >= 0 && r.Route != want || want < 0 && (r.Route == RouteAsset || r.Route == RoutePage && r.ID == homePage) {
					t.Fatalf("session %x's request %d: route %d, want %d (%d assets, a cycle of %d)", sid, s.n, r.Route, want, c.churnAssets, c.churn)
				}
				s.n++
			}
		})
	}
	if checked < 8 {
		t.Fatalf("%d churn scenarios checked", checked)
	}
}

// A record served again exposes no one new: a churner reading what
// shoppers read is served the same reviewers over and over, and its
// records taken (1,655,392 in linger-churn's day) are not the people it
// took (43,984 of 50,000).
func TestAPersonServedTwiceIsTakenOnce(t *testing.T) {
	item := 0
	for i := 1; i < len(world.reviewers); i++ {
		if len(world.reviewers[i]) >= 2 {
			item = i
			break
		}
	}
	n := len(world.reviewers[item])
	c := &campaign{w: world, st: &CampaignStats{}}
	for _, tt := range []struct {
		r       Request
		refused bool
	}{
		{Request{Route: RouteReviews, ID: item}, false},
		{Request{Route: RouteReviews, ID: item}, false},
		{Request{Route: RouteReviews, ID: item + 1}, true},
		{Request{Route: RouteProfile, ID: int(world.reviewers[item][0])}, false},
		{Request{Route: RouteProfile, ID: 49_999}, false},
		{Request{Route: RouteLookup, ID: 49_998}, false}, // a miss
	} {
		tt.r.At = Start
		o := Outcome{Refused: tt.refused}
		if !tt.refused {
			o.Records = len(world.records(&tt.r, nil))
		}
		c.Done(tt.r, o)
	}
	if c.st.Records != 2*n+2 || c.st.Distinct != n+1 {
		t.Fatalf("records taken %d, people %d; want %d and %d", c.st.Records, c.st.Distinct, 2*n+2, n+1)
	}
}

// A single-page app's people (Population.SPA) load the app's page, the
// home page, and its script at the start of each visit, and never an
// item's page: each of their item calls is the API's alone.
func TestASinglePageAppsShoppersLoadTheAppOnceAVisit(t *testing.T) {
	p := DefaultPopulation()
	p.Shoppers, p.Agents, p.Crawler, p.Partner, p.SPA = 200, 0, false, false, true
	sources, _ := Legit(world, p, 1, Start.Add(24*time.Hour))
	var visits, calls int
	for _, src := range sources {
		var last uint64
		for {
			r, ok := src.Next()
			if !ok {
				break
			}
			src.Done(r, Outcome{})
			s := r.Actor.Keys[identity.Session].Hash
			if r.Route == RoutePage && r.ID != homePage {
				t.Fatalf("an item's page (item %d) on a single-page app", r.ID)
			}
			if s != last {
				if r.Route != RoutePage {
					t.Fatalf("a visit began with route %d at %s, not the app's page (session %x, last %x)", r.Route, r.At, s, last)
				}
				visits++
				last = s
			} else if r.Route == RoutePage {
				t.Fatal("the app's page loaded twice in a visit")
			}
			if r.Route == RouteReviews {
				calls++
			}
		}
	}
	if visits < 100 || calls < 3*visits {
		t.Errorf("%d visits with %d item calls: want a hundred at least, with a few calls each", visits, calls)
	}
	t.Logf("%d visits, %d item calls", visits, calls)
}
