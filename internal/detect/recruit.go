package detect

import (
	"math"
	"sync"
)

// Recruiting: the members of an account crew start together, each with
// its own account, session and address, and each looks like a sweeper
// only after a sweep's worth of calls (eight API calls, six intervals, a
// dozen cold records). Forty members take that forty times before the
// crew exists. One actor showing a third of that evidence is nothing; a
// quorum of lookalikes (one fingerprint) showing it at once is the crew
// starting, and they join it early. So does any lookalike of a crew
// already sanctioned.
const (
	recruitQuorum = 5
	// recruitWindow: the lookalikes must show within it (ns).
	recruitWindow = int64(60e9)
	// recruitKeep: a crew that had its quorum recruits until this long
	// after its last early member (ns).
	recruitKeep = int64(3600e9)
	recruitCap  = 4096
)

// recruits follows crews forming. Past their bounds they forget first
// what they would start anew (a crew without its quorum past its minute,
// a /24 weighed more than a minute ago), then crews still forming, then
// what is idle longest: a decoy swarm over thousands of /24s, each a crew
// of its own, made them forget a random quarter each time, a real crew's
// quorum with them.
type recruits struct {
	mu sync.Mutex
	m  map[uint64]*recruit
	// weighed: per crew recruited on a /24 (pagedCrew), the keys weighed
	// for it in the last recruitWindow (beyondChance)
	weighed map[uint64]*weighed
	idle    []uint64 // forgetIdle's
}

// weighed is the keys of a /24 weighed for its paged crew: when each was
// last, and whether it showed the crew's evidence in the window; at: the
// last weighing.
type weighed struct {
	keys map[uint64]weighedKey
	at   int64
}

type weighedKey struct {
	at     int64
	showed bool
}

// weighedCap bounds the keys followed per /24: past it the window's
// oldest go, and an office's hundreds of people still count as hundreds.
// weighedNets bounds the /24s followed (a quarter forgotten past it):
// some 12 MB at most.
const (
	weighedCap  = 256
	weighedNets = 1024
)

// quorumChance is the chance that one person's key shows a quorum's
// evidence (the ×recruitQuorum test of pagedSweep): that test is the
// Chernoff bound at colderEvidence for five such keys, each at most
// e^(-colderEvidence/recruitQuorum), 0.16.
var quorumChance = math.Exp(-colderEvidence / recruitQuorum)

// beyondChance notes that member, a key of the /24 of crew weighed for
// the crew's evidence at now, showed it or not (showed), and reports
// whether the crew has its quorum already, or the keys that showed it
// among those weighed in the last recruitWindow are beyond a person's
// chance (quorumChance), as five of five are. Five such keys on a /24
// whose addresses are each no people's are a crew starting (page-crew);
// thirty of two hundred in an office whose people click through a page a
// second are the office (live, demo --think 1s: 157 office requests
// refused as a crew's, 2026-12-05).
func (r *recruits) beyondChance(crew, member uint64, now int64, showed bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.m[crew]; c != nil && c.n >= recruitQuorum && now-c.since <= recruitKeep {
		return true
	}
	if r.weighed == nil {
		r.weighed = map[uint64]*weighed{}
	}
	w := r.weighed[crew]
	if w == nil {
		if len(r.weighed) >= weighedNets {
			forgetIdle(r.weighed, func(w *weighed) uint64 {
				if now-w.at > recruitWindow {
					return math.MaxUint64
				}
				return uint64(max(now-w.at, 0))
			}, &r.idle)
		}
		w = &weighed{keys: map[uint64]weighedKey{}}
		r.weighed[crew] = w
	}
	w.at = max(w.at, now)
	k := w.keys[member]
	k.showed = showed || k.showed && now-k.at <= recruitWindow
	k.at = now
	w.keys[member] = k
	var n, shown uint32
	oldest, oldestAt := uint64(0), now
	for m, wk := range w.keys {
		if now-wk.at > recruitWindow {
			delete(w.keys, m)
			continue
		}
		n++
		if wk.showed {
			shown++
		}
		if wk.at < oldestAt {
			oldest, oldestAt = m, wk.at
		}
	}
	if len(w.keys) > weighedCap {
		delete(w.keys, oldest)
	}
	return shown >= recruitQuorum && beyond(shown, n, quorumChance)
}

// beyond reports whether k of n keys showing what each would by chance
// with probability p is at least as unlikely as colderEvidence allows
// (colderThanPeople, with room for rounding: five of five at
// quorumChance sit on the bound itself).
func beyond(k, n uint32, p float64) bool {
	if n == 0 || float64(k) <= p*float64(n) {
		return false
	}
	return float64(n)*bernoulliKL(float64(k)/float64(n), p) >= colderEvidence*(1-1e-9)
}

type recruit struct {
	since  int64 // the first early member; past the quorum, the last
	formed int64 // when the quorum was reached
	// began: the latest first record request of the quorum's members,
	// when the crew started at the latest
	began   int64
	members [recruitQuorum]uint64 // behaviour keys seen, until the quorum
	n       int
	// next: past the quorum, the lookalikes that started within the
	// minute and are not the crew's yet, the first noted at nextSince;
	// nextBegan: the latest first record request among them
	next                 [recruitQuorum]uint64
	nextN                int
	nextSince, nextBegan int64
}

// stale reports whether the crew would start anew at now: it did not
// reach its quorum within its minute, or recruited nobody for
// recruitKeep.
func (c *recruit) stale(now int64) bool {
	return c.n < recruitQuorum && now-c.since > recruitWindow || now-c.since > recruitKeep
}

// again notes member, a lookalike that started (first) within the minute
// and is not of the crew's start, and reports whether it makes a quorum
// of such within a minute: the crew then starts again at now.
func (c *recruit) again(member uint64, now, first int64) bool {
	if now-c.nextSince > recruitWindow {
		c.nextN = 0
	}
	for _, m := range c.next[:c.nextN] {
		if m == member {
			return false
		}
	}
	if c.nextN == 0 {
		c.nextSince, c.nextBegan = now, first
	}
	c.next[c.nextN] = member
	c.nextN++
	c.nextBegan = max(c.nextBegan, first)
	if c.nextN < recruitQuorum {
		return false
	}
	c.formed, c.began, c.nextN = now, c.nextBegan, 0
	return true
}

// join notes that member (a behaviour key, whose first record request was
// at first) shows an early sweep towards crew at now, and reports whether
// it is the crew's: the crew has its quorum, and the member was one of
// it, started with it (within a minute of the quorum's members, and at
// most a minute after the quorum formed: the rest of a crew starting
// together), or is convincing alone (a latecomer: a lookalike that turns
// up an hour on is as often a person who happens to read the tail while a
// crew is about; so is one who had been reading since long before it).
func (r *recruits) join(crew, member uint64, now, first int64, alone bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[uint64]*recruit{}
	}
	c := r.m[crew]
	if c == nil || c.stale(now) {
		if c == nil && len(r.m) >= recruitCap {
			forgetIdle(r.m, func(c *recruit) uint64 {
				switch {
				case c.stale(now):
					return math.MaxUint64
				case c.n < recruitQuorum:
					return 1<<62 + uint64(max(now-c.since, 0)) // forming, before any formed
				}
				return uint64(max(now-c.since, 0))
			}, &r.idle)
		}
		c = &recruit{since: now}
		r.m[crew] = c
	}
	for _, m := range c.members[:c.n] {
		if m == member {
			return c.n >= recruitQuorum
		}
	}
	if c.n >= recruitQuorum {
		if first >= c.began-recruitWindow && first-c.formed <= recruitWindow {
			c.since = now
			return true
		}
		// Lookalikes that start within a minute of each other past the
		// crew's first minute, a quorum of them, are the crew starting
		// again, as its first five were: those that start beside them
		// join on the quorum's evidence. A swarm that starts a member
		// every second or so, each for a handful of calls, had only the
		// few convincing alone recruited past its first minute (sim
		// account-swarm at noon: 8,919 people in half an hour; live,
		// 2,623 in the two minutes after its first, 2026-12-07).
		if now-first <= recruitWindow && c.again(member, now, first) {
			c.since = now
			return true
		}
		if alone {
			c.since = now
			return true
		}
		return false
	}
	c.members[c.n] = member
	c.began = max(c.began, first)
	c.n++
	if c.n == recruitQuorum {
		c.formed = now
	}
	return c.n >= recruitQuorum
}
