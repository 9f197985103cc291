package detect

import (
	"sync"
	"sync/atomic"
)

// Bursts: an operation that keeps each member at a person's pace, signed
// in, loading each item's page before its reviews, and picks half its
// items as people pick them, shows each member colder than people beyond
// chance only after some thirty responses, and a cohort's quorum (1 in
// 100 each) only after twenty: a ninth red team's crew of 50-70 accounts
// on 4-6 /24s took 7,487-7,872 people live in 90 s, each member stopped
// by its own budgets or recruited one by one (2026-12-08). What no
// member can hide is how they started: dozens of keys making their first
// record call within seconds, a dozen or more on each of a few /24s that
// had made none in the hour before. People who come at once come from
// everywhere, one or two to a /24 (surge); a busy network's people arrive
// at its own rate. And the keys that started so are not chosen by what
// they were shown, so their responses can be weighed together: a dozen
// members' first few responses are beyond chance where no one member's
// are.
//
// So each key's first record call is counted in its network's slot
// (burstSpan), with the network's rate of first calls over the hour
// before. A network is a burst's when burstPerNet or more keys started
// on it within two slots, more than SurgeRatio times its rate, and their
// first responses (burstServed a slot) were colder than people's beyond
// a cohort member's chance (1 in 100). When cohortNets such networks,
// with cohortQuorum keys in all, were so beyond a person's chance
// together (1 in 10,000), the burst forms: its keys are the sweepers'
// crew's (recruits), each once it is shown no warmer than people.
const (
	burstSpan = int64(10e9)
	// burstPerNet: keys started on a network within two slots to count
	// it: an office's people arrive a few a minute, a carrier NAT's at
	// its own rate
	burstPerNet = 4
	// burstServed: a network's responses weighed in a slot (its keys'
	// first): over a crowd's thousands, a share a little off people's
	// would be beyond chance. Not 64: a crew half on popular items has
	// about half its responses mostly cold where people have a quarter
	// to a third, which 64 put at the edge of 1 in 100, and live among
	// every class the red team's crew took 3,342 people (1,837 at 256)
	burstServed = 256
	// burstNetsCap: the networks followed in a slot; past it, those with
	// one key go first
	burstNetsCap = 256
	// burstWeighEvery: a slot is weighed at most once in this (ns)
	burstWeighEvery = int64(1e9)
	// burstKnown: a network's rate is known once the proxy has run this
	// long before its first call in a slot (ns): at a start, everyone
	// already about arrives at once (surgeQuiet)
	burstKnown = 2 * burstSpan
)

type bursts struct {
	mu    sync.Mutex
	slots map[int64]*burstSlot // by first record call / burstSpan
	// formed: a burst has formed (its slots are kept for recruitKeep)
	formed atomic.Bool
}

type burstSlot struct {
	nets    map[uint64]*burstNet
	weighed int64 // last weighed (ns)
	formed  bool  // some of its networks are a formed burst's
}

type burstNet struct {
	births uint16
	// rate: the network's first record calls in a burstSpan over the
	// hour before its first in the slot (-1: not known)
	rate         float32
	served, cold uint16
	exp          float32 // people's share as each was served, summed
	formed       bool    // a formed burst's network
}

// born notes a key's first record call on network net at now, the
// network's rate then being rate (first calls a burstSpan; negative: not
// known).
func (bs *bursts) born(net uint64, now int64, rate float64) {
	s := now / burstSpan
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.slots == nil {
		bs.slots = map[int64]*burstSlot{}
	}
	sl := bs.slots[s]
	if sl == nil {
		bs.prune(s)
		sl = &burstSlot{nets: map[uint64]*burstNet{}}
		bs.slots[s] = sl
	}
	n := sl.nets[net]
	if n == nil {
		if len(sl.nets) >= burstNetsCap && !sl.evictSingle() {
			return // a crowd from everywhere
		}
		n = &burstNet{rate: float32(rate)}
		sl.nets[net] = n
	}
	if n.births < ^uint16(0) {
		n.births++
	}
}

// evictSingle drops a network with one key from the slot, reporting
// whether there was one.
func (sl *burstSlot) evictSingle() bool {
	for k, n := range sl.nets {
		if n.births <= 1 && !n.formed {
			delete(sl.nets, k)
			return true
		}
	}
	return false
}

// prune drops, as slot s begins, the slots no key can be weighed in any
// more: those of no formed burst burstWeighSlots back, and formed ones
// past recruitKeep (their networks not the burst's sooner). With none
// formed left, no record call need ask (of).
func (bs *bursts) prune(s int64) {
	defer func() {
		for _, sl := range bs.slots {
			if sl.formed {
				return
			}
		}
		bs.formed.Store(false)
	}()
	for k, sl := range bs.slots {
		switch {
		case k < s-burstWeighSlots && !sl.formed, k < s-recruitKeep/burstSpan:
			delete(bs.slots, k)
		case k < s-burstWeighSlots:
			for net, n := range sl.nets {
				if !n.formed {
					delete(sl.nets, net)
				}
			}
		}
	}
}

// burstWeighSlots: a key's responses are weighed for its slot this many
// slots on (its first minute)
const burstWeighSlots = 6

// served notes a response (mostly cold or not) to a key whose first
// record call on network net was at first, served at now when people's
// share was exp, and weighs the key's slot with its neighbours once its
// network could be a burst's (ratio: Behaviour.SurgeRatio).
func (bs *bursts) served(net uint64, first, now int64, mostlyCold uint16, exp, ratio float64) {
	s := first / burstSpan
	if now/burstSpan-s > burstWeighSlots {
		return
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	sl := bs.slots[s]
	if sl == nil {
		return
	}
	n := sl.nets[net]
	if n == nil || n.served >= burstServed {
		return
	}
	n.served++
	n.cold += mostlyCold
	n.exp += float32(exp)
	if n.births < burstPerNet || n.formed || now-sl.weighed < burstWeighEvery {
		return
	}
	sl.weighed = now
	for _, pair := range [2][2]int64{{s - 1, s}, {s, s + 1}} {
		if bs.weigh(pair[0], pair[1], exp, ratio) {
			bs.formed.Store(true)
			return
		}
	}
}

// weigh reports whether the keys of slots a and b form a burst, against
// people's share now (people), marking its networks if so.
func (bs *bursts) weigh(a, b int64, people, ratio float64) bool {
	sa, sb := bs.slots[a], bs.slots[b]
	if sa == nil && sb == nil {
		return false
	}
	// Each network of either slot, once.
	pairs := map[uint64][2]*burstNet{}
	for i, sl := range []*burstSlot{sa, sb} {
		if sl == nil {
			continue
		}
		for net, n := range sl.nets {
			p := pairs[net]
			p[i] = n
			pairs[net] = p
		}
	}
	var nets []uint64
	keys, served, cold, exp := 0, 0, 0, 0.0
	for net, p := range pairs {
		m, n := p[0], p[1]
		if m == nil {
			m = &burstNet{rate: n.rate}
		}
		if n == nil {
			n = &burstNet{rate: m.rate}
		}
		births, rate := int(m.births)+int(n.births), max(m.rate, n.rate)
		if births < burstPerNet || rate < 0 || float64(births) <= 2*ratio*float64(rate) {
			continue
		}
		// Each network colder than people on its own (a cohort
		// member's evidence): networks of people started beside a crew
		// do not dilute it.
		ns, nc, ne := int(m.served)+int(n.served), int(m.cold)+int(n.cold), float64(m.exp+n.exp)
		if ns == 0 || coldEvidence(uint32(nc), uint32(ns), max(people, ne/float64(ns))) < cohortEvidence {
			continue
		}
		nets = append(nets, net)
		keys += births
		served, cold, exp = served+ns, cold+nc, exp+ne
	}
	if len(nets) < cohortNets || keys < cohortQuorum {
		return false
	}
	if !colderThanPeople(uint32(cold), uint32(served), max(people, exp/float64(served))) {
		return false
	}
	for _, net := range nets {
		for _, sl := range []*burstSlot{sa, sb} {
			if sl == nil {
				continue
			}
			if n := sl.nets[net]; n != nil {
				n.formed = true
				sl.formed = true
			}
		}
	}
	return true
}

// of reports whether the key whose first record call on network net was
// at first is of a formed burst.
func (bs *bursts) of(net uint64, first int64) bool {
	if !bs.formed.Load() {
		return false
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	sl := bs.slots[first/burstSpan]
	if sl == nil || !sl.formed {
		return false
	}
	n := sl.nets[net]
	return n != nil && n.formed
}

// netBirths: a network's keys' first record calls in the hour numbered
// hour and the one before.
type netBirths struct {
	hour       int32
	this, last uint32
}

// netBorn notes a key's first record call on network net at now, and
// returns the network's rate before it: first calls a burstSpan over the
// last hour, as much of it as the proxy has run (negative: the proxy has
// not run burstKnown).
func (b *Behaviour) netBorn(net uint64, now int64) float64 {
	start := b.firstCall.Load()
	sh := &b.births[net>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, _ := sh.get(net)
	roll(&st.hour, int32(now/surgeHour), &st.this, &st.last)
	hourly := spanned(float64(st.this), float64(st.last), now, surgeHour)
	st.this++
	sh.put(net, st, b.shardCap)
	if now-start < burstKnown {
		return -1
	}
	return hourly * float64(burstSpan) / float64(min(now-start, surgeHour))
}
