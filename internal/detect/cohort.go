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
	// cohortNets: the /24s a quorum's members must be on. Not one or two
	// (an office's people, each on an address of its own); not ten,
	// which a crew on a few /24s never met: sixty accounts on five /24s,
	// each loading an item's page before its reviews every 2.2-3.3 s,
	// took 4,639-6,206 records live in 90 s (a ninth red team), 12,219-
	// 12,834 in the simulator (page-crew-paced from noon, seeds 1-3;
	// 3,506-4,116 at four, 2026-12-08).
	cohortNets = 4
	// streamNets: the /24s a stream's must be on. A stream is weighed
	// over half an hour, in which an office's people come and go by the
	// hundred: it keeps the ten cohorts had.
	streamNets = 10
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
	// streamWindow: a stream's members started within this of one
	// another (ns): a quorum in half an hour is a member every 90 s
	streamWindow = int64(15 * 60e9)
)

type cohorts struct {
	mu    sync.Mutex
	m     map[uint64]*cohort
	round uint8 // thin's
}

type cohort struct {
	keys  []cohortKey
	index map[uint64]int // keys' members: where each is in keys
	// formed: the quorum's first record calls spanned lo to hi (ns);
	// at: when it formed; last: its last recruit
	formed           bool
	lo, hi, at, last int64
	// streamLo: the first start of the stream it has been (0: none);
	// streamLast: its last recruit
	streamLo, streamLast int64
}

type cohortKey struct {
	member, net uint64
	first, at   int64 // its first record call, and when it was noted
	// recruited: by the cohort or a stream (it is then explained, and
	// no person of the baseline a stream is weighed against)
	recruited bool
}

// join notes that member (a behaviour key on /24 net, whose first record
// request was at first) shows cohort evidence towards cohort sig at now
// (evidence.tail; alone: evidence.alone too), and reports whether it is
// the cohort's or a stream's recruit. arrived counts the keys that made
// their first record call on the route between two times (ns): only
// where a quorum is weighed, so not on every call.
func (c *cohorts) join(sig, member, net uint64, now, first int64, arrived func(from, to int64) uint64, alone bool) bool {
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
		co = &cohort{index: map[uint64]int{}}
		c.m[sig] = co
	}
	if co.formed && now-co.last > recruitKeep {
		co.formed = false // long gone: it says nothing of who starts now
	}
	// Beside a formed cohort: recruited on the stronger evidence, or
	// on the weaker where it started within the quorum's span, or was
	// counted before the quorum formed (it is of the quorum).
	pos, ok := co.index[member]
	beside := co.formed && first >= co.lo-recruitWindow && first <= co.hi+recruitWindow
	if beside && (alone || first >= co.lo && first <= co.hi || ok && co.keys[pos].at <= co.at) {
		co.last = now
		if ok {
			co.keys[pos].recruited = true
		}
		return true
	}
	if ok && co.keys[pos].recruited {
		return true
	}
	// A stream recruits who starts while it goes on on the stronger
	// evidence only, as a formed cohort does beside it (stream).
	streaming := co.streamLast != 0 && now-co.streamLast <= recruitKeep && first >= co.streamLo
	if streaming && alone {
		if !ok {
			co.note(cohortKey{member: member, net: net, first: first, at: now}, now)
			pos = len(co.keys) - 1
		}
		co.keys[pos].recruited, co.streamLast = true, now
		return true
	}
	if ok {
		return false
	}
	co.note(cohortKey{member: member, net: net, first: first, at: now}, now)
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
	if n >= cohortQuorum && len(nets) >= cohortNets && beyondRate(n, max(float64(before)/30, cohortChance*float64(arrived(first-recruitWindow, first+recruitWindow)))) {
		co.formed, co.lo, co.hi, co.at, co.last = true, lo, hi, now, now
		co.keys[len(co.keys)-1].recruited = true
		return true
	}
	return !streaming && co.stream(len(co.keys)-1, now, arrived)
}

// stream reports whether the key at keys[i] is of a stream: cohortQuorum
// keys showing cohort evidence, on streamNets /24s, that started within
// streamWindow of it and are not yet explained (recruited), beyond chance
// for the keys that arrived with them and for such keys in the hour
// before. If so they are all recruited, and while the stream goes on
// (join) whoever starts shows the stronger evidence to join it.
//
// An operation that starts a member every few seconds, below a quorum
// a minute, forms no cohort, and after an hour is its own baseline:
// paced-stagger, 200-400 members one every 8-15 s, took 301,043 records
// in the simulator's afternoon, where paced-pages started at once took
// 33,682 (2026-12-06). Over half an hour its members are dozens, and
// those recruited are not the baseline of those who follow. Who starts
// while it goes on joins on the stronger evidence, its own: recruited on
// the weaker, a person who started five hours into the simulator's
// landing crowd was refused 14 calls (seed 2).
func (co *cohort) stream(i int, now int64, arrived func(from, to int64) uint64) bool {
	k := co.keys[i]
	n, before := 0, 0
	nets := map[uint64]struct{}{}
	for _, o := range co.keys {
		switch d := o.first - k.first; {
		case o.recruited: // explained: what is left must be beyond chance
		case d >= -streamWindow && d <= streamWindow:
			n++
			nets[o.net] = struct{}{}
		case d < -streamWindow && d >= -streamWindow-recruitKeep:
			before++
		}
	}
	rate := max(float64(before)*float64(2*streamWindow)/float64(recruitKeep), cohortChance*float64(arrived(k.first-streamWindow, k.first+streamWindow)))
	if n < cohortQuorum || len(nets) < streamNets || !beyondRate(n, rate) {
		return false
	}
	co.streamLo, co.streamLast = k.first+streamWindow, now
	for j, o := range co.keys {
		if o.first >= k.first-streamWindow && o.first <= k.first+streamWindow {
			co.keys[j].recruited = true
			co.streamLo = min(co.streamLo, o.first)
		}
	}
	return true
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
		for i, old := range keep {
			co.index[old.member] = i
		}
	}
	co.keys = append(keep, k)
	co.index[k.member] = len(co.keys) - 1
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
