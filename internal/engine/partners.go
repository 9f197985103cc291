package engine

import (
	"math"
	"sync"

	"github.com/leakguard/leakguard/internal/identity"
)

// A partner (detect.allow, detect.allow_accounts) meets the budgets
// written for allowlisted actors, the same for every partner: 400 users in
// 10 minutes by default. One that syncs 30 in 10 minutes and turns
// harvester at 300 stays under that, 43,000 records a day (a red team's
// log replay, 2026-12-07). Its own history says more: once a day of it is
// known, a partner is held to ownNormalFactor times the most it took in
// the budget's window in any hour of the 8 days before this one, never
// below ownNormalFloor of the written limit and never above it. Search
// bots verified by DNS are not held so: their addresses' volumes swing
// from day to day with the crawl, and refusing them costs an operator its
// search listings.
const (
	ownNormalHours  = 8 * 24 // how far back a partner's normal looks (a weekly sync is in it)
	ownNormalAfter  = 24     // hours of its history before its normal is known
	ownNormalFactor = 4
	ownNormalFloor  = 8 // the own limit is at least the written limit / this
	maxOwnNormals   = 4096
	hourNs          = int64(3600e9)
)

// ownNormalSuffix marks the rule of a decision whose limit was the
// partner's own (the sanction's rule is the budget's).
const ownNormalSuffix = "/own-normal"

type ownKey struct {
	k  identity.Key
	bi int
}

// ownNormal is one allowlisted key's history under one budget: the most
// it took in the budget's window during each hour, hours since the epoch
// in event time.
type ownNormal struct {
	first, last int64
	most        [ownNormalHours]uint32
	// normal is the most over the hours before hour at, kept because a
	// partner's requests ask for it many times an hour.
	at, normal int64
}

// ownNormals holds the partners' histories, at most maxOwnNormals of
// them: past that, a new key meets the written limits only.
type ownNormals struct {
	mu sync.Mutex
	m  map[ownKey]*ownNormal
}

// note records that key k took v in budget bi's window at t (unix ns).
func (o *ownNormals) note(k identity.Key, bi int, t int64, v uint64) {
	h := t / hourNs
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.m[ownKey{k, bi}]
	if n == nil {
		if o.m == nil {
			o.m = map[ownKey]*ownNormal{}
		}
		if len(o.m) >= maxOwnNormals {
			return
		}
		n = &ownNormal{first: h, last: h, at: -1}
		o.m[ownKey{k, bi}] = n
	}
	if h > n.last {
		for x := n.last + 1; x <= h && x <= n.last+ownNormalHours; x++ {
			n.most[slot(x)] = 0
		}
		n.last = h
	} else if h <= n.last-ownNormalHours {
		return // older than the history kept
	}
	n.first = min(n.first, h)
	i := slot(h)
	n.most[i] = max(n.most[i], uint32(min(v, math.MaxUint32)))
	if h < n.at {
		n.at = -1 // an event out of order changed an hour before: count again
	}
}

// limit is key k's limit under budget bi at t given the budget's limit
// lim, and the normal it rests on (0: none known, lim stands).
func (o *ownNormals) limit(k identity.Key, bi int, t int64, lim uint64) (uint64, uint64) {
	h := t / hourNs
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.m[ownKey{k, bi}]
	if n == nil || h-n.first < ownNormalAfter {
		return lim, 0
	}
	if n.at != h {
		n.at, n.normal = h, 0
		// the hours before this one that are still kept
		for x := max(h, n.last) - ownNormalHours + 1; x <= min(h-1, n.last); x++ {
			n.normal = max(n.normal, int64(n.most[slot(x)]))
		}
	}
	if n.normal == 0 {
		return lim, 0 // it took nothing in a week: unknown, not none
	}
	own := max(uint64(n.normal)*ownNormalFactor, lim/ownNormalFloor)
	return min(own, lim), uint64(n.normal)
}

// slot is hour h's place in a history.
func slot(h int64) int64 { return (h%ownNormalHours + ownNormalHours) % ownNormalHours }
