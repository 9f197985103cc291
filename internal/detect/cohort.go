package detect

import (
	"math"
	"sync"
)

// Cohorts: an operation that keeps every member at a person's pace, each
// on an address of its own, loading each item's page before its reviews
// (red team, paced-pages: 15,826 records live in 90 s) or signed in and
// calling the API at a clerk's pace (console-crew: 11,485), shows nothing
// in any one member that a person reading the long tail does not: each
// member's responses are colder than people's beyond chance, which is
// also what a collector of obscure items or a customer-service clerk
// shows. What no people show is dozens of them that started within the
// same minute, from many networks, doing the same thing: one route, with
// pages or without, at one pace.
//
// So a key whose responses are colder than people's beyond chance on
// its own, at cohortEvidence (evidence.tail), is noted in its cohort
// (its record route, whether it loads pages around its calls, its pace
// band) with the time of its first record call. When cohortQuorum of
// them, from cohortNets /24s, started within a minute of one another,
// and that many is beyond chance for how many such keys started in the
// hour before (a platform on which tail readers arrive by the dozen a
// minute has them as a baseline), they are recruited into the sweepers'
// crew, and so is whoever started within a minute of them and shows the
// same beyond a person's chance (evidence.alone), for as long as one of
// them goes on.
const (
	cohortQuorum = 20
	cohortNets   = 10
	// cohortChance: the share of keys arriving together that may show
	// the evidence by chance: on a platform where 100,000 sessions
	// start a minute, two thousand tail readers starting in two minutes
	// are a crowd, not a cohort. It was a hundred times the 1 in 10,000
	// each member had to pass (people differ: collectors of the
	// obscure, clerks); since members count at 1 in 100
	// (cohortEvidence) it is that bound itself, and where people differ
	// more than that the hour before is the baseline (join). Measured
	// at 1 in 100: among 3,000 people live, 4 of about 400 arrivals in
	// a window, on one /24; in a simulated day, 6 clerks of 10, on one.
	cohortChance = 0.01
	cohortCap    = 64   // cohorts followed: routes × pages × pace bands
	cohortKeys   = 4096 // keys noted per cohort
	// cohortEvidence: ln(100). A key counts towards a quorum once a
	// person's responses would be as cold 1 time in 100, not 10,000:
	// the quorum is the evidence, and each of its members at a person's
	// pace shows 1 in 10,000 only after about twelve items, 30-60 s
	// (live paced-pages: held at 46 s, 7,899 people; at 1 in 100, 20 s
	// and 4,344, 2026-12-06). Those who start beside a formed cohort,
	// but not within the span of its quorum's starts, are recruited on
	// the stronger evidence only: an office shopper who started 40 s
	// after the cohort was recruited on the weaker, and refused four
	// calls (the live demo, 2026-12-06).
	cohortEvidence = 4.6
)

type cohorts struct {
	mu    sync.Mutex
	m     map[uint64]*cohort
	round uint8 // thin's
}

type cohort struct {
	keys  []cohortKey
	index map[uint64]int64 // keys' members: when each was noted
	// formed: the quorum's first record calls spanned lo to hi (ns);
	// at: when it formed; last: its last recruit
	formed           bool
	lo, hi, at, last int64
}

type cohortKey struct {
	member, net uint64
	first, at   int64 // its first record call, and when it was noted
}

// join notes that member (a behaviour key on /24 net, whose first record
// request was at first, among arrived keys making theirs within a minute
// of it) shows cohort evidence towards cohort sig at now (evidence.tail;
// alone: evidence.alone too), and reports whether it is the cohort's
// recruit.
func (c *cohorts) join(sig, member, net uint64, now, first int64, arrived uint64, alone bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[uint64]*cohort{}
	}
	co := c.m[sig]
	if co == nil {
		if len(c.m) >= cohortCap {
			thin(c.m, &c.round)
		}
		co = &cohort{index: map[uint64]int64{}}
		c.m[sig] = co
	}
	if co.formed && now-co.last > recruitKeep {
		co.formed = false // long gone: it says nothing of who starts now
	}
	// Beside a formed cohort: recruited on the stronger evidence, or
	// on the weaker where it started within the quorum's span, or was
	// counted before the quorum formed (it is of the quorum).
	noted, ok := co.index[member]
	beside := co.formed && first >= co.lo-recruitWindow && first <= co.hi+recruitWindow
	if beside && (alone || first >= co.lo && first <= co.hi || ok && noted <= co.at) {
		co.last = now
		return true
	}
	if ok {
		return false
	}
	co.note(cohortKey{member, net, first, now}, now)
	if beside {
		return false // the quorum it would make is the one formed
	}
	// Keys that started within a minute of this one, their /24s, and
	// those that started in the hour before them: the baseline.
	n, lo, hi, before := 0, first, first, 0
	nets := map[uint64]struct{}{}
	for _, k := range co.keys {
		switch d := k.first - first; {
		case d >= -recruitWindow && d <= recruitWindow:
			n++
			nets[k.net] = struct{}{}
			lo, hi = min(lo, k.first), max(hi, k.first)
		case d < 0 && d >= -recruitKeep:
			before++
		}
	}
	// Chance: two minutes' worth of the hour's rate, or cohortChance of
	// the keys that arrived with them, whichever is more.
	if n >= cohortQuorum && len(nets) >= cohortNets && beyondRate(n, max(float64(before)/30, cohortChance*float64(arrived))) {
		co.formed, co.lo, co.hi, co.at, co.last = true, lo, hi, now, now
		return true
	}
	return false
}

// note adds key k, forgetting keys noted over two hours before now and,
// past cohortKeys, the earliest.
func (co *cohort) note(k cohortKey, now int64) {
	keep := co.keys[:0]
	for _, old := range co.keys {
		if now-old.at <= 2*recruitKeep {
			keep = append(keep, old)
		}
	}
	if len(keep) >= cohortKeys {
		keep = keep[:copy(keep, keep[len(keep)-cohortKeys+1:])]
	}
	if len(keep) != len(co.keys) {
		clear(co.index)
		for _, old := range keep {
			co.index[old.member] = old.at
		}
	}
	co.keys = append(keep, k)
	co.index[k.member] = k.at
}

// beyondRate reports whether n keys are beyond chance for a Poisson count
// of mean rate (at least one): the Chernoff bound
// exp(-(n ln(n/λ) - n + λ)) under e^-colderEvidence.
func beyondRate(n int, rate float64) bool {
	l := max(rate, 1)
	x := float64(n)
	return x > l && x*math.Log(x/l)-x+l >= colderEvidence
}

// paceBand is the band of a key's mean interval between record calls (ns):
// faster than a person reads, brisk, a clerk's, slower.
func paceBand(pace float64) uint64 {
	switch {
	case pace < 2e9:
		return 0
	case pace < 10e9:
		return 1
	case pace < 60e9:
		return 2
	}
	return 3
}
