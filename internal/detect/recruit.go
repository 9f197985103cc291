package detect

import "sync"

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

type recruits struct {
	mu    sync.Mutex
	m     map[uint64]*recruit
	round uint8 // thin's
}

type recruit struct {
	since  int64 // the first early member; past the quorum, the last
	formed int64 // when the quorum was reached
	// began: the latest first record request of the quorum's members,
	// when the crew started at the latest
	began   int64
	members [recruitQuorum]uint64 // behaviour keys seen, until the quorum
	n       int
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
	if c == nil || c.n < recruitQuorum && now-c.since > recruitWindow || now-c.since > recruitKeep {
		if c == nil && len(r.m) >= recruitCap {
			thin(r.m, &r.round) // forget a quarter rather than grow
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
		if alone || first >= c.began-recruitWindow && first-c.formed <= recruitWindow {
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
