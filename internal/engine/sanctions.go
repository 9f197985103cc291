package engine

import (
	"sync"

	"github.com/leakguard/leakguard/internal/identity"
)

// sanction is a budget's action in force on one key until a time.
type sanction struct {
	budget int
	action Action
	until  int64 // unix ns, event time
	// young: the sanction holds only the young sessions of an address
	// whose sessions do not outlive their youth (session_churn), not
	// the people behind it (Engine.youngOnly).
	young bool
	// shadow: decided in shadow mode, so only ever logged. An enforcing
	// engine drops it and judges the key again: an operator who read the
	// shadow log, fixed what was wrong and switched to enforce had every
	// actor the shadow run would have blocked blocked, with no decision
	// logged, for as long as the shadow sanction lasted.
	shadow bool
}

const (
	sanctionShards = 64
	// sanctionShardCap bounds the table: 64 × 16384 ≈ 1M sanctioned keys.
	sanctionShardCap = 16384
)

// sanctions is a sharded table of the sanctions in force, by key.
type sanctions struct {
	shards [sanctionShards]struct {
		mu sync.RWMutex
		m  map[identity.Key][]sanction
		// strikes remembers past sanctions by key and budget, after they
		// end, so a repeat offender's next one lasts longer.
		strikes map[strikeKey]strike
	}
}

type strikeKey struct {
	k      identity.Key
	budget int
	// young: a sanction on the address's young sessions only counts its
	// own strikes, not the address's: a churner that resumes as each ends
	// must not lengthen a later block of the people behind the address.
	young bool
}

type strike struct {
	n    uint8
	last int64 // unix ns of the last sanction
}

const (
	// strikeMemory: a sanction this long after the last one by the same
	// budget on the same key starts afresh.
	strikeMemory = int64(7 * 24 * 3600 * 1e9)
	// maxStrikeShift caps escalation at 16 times the budget's block_for.
	maxStrikeShift = 4
)

func (s *sanctions) init() {
	for i := range s.shards {
		s.shards[i].m = make(map[identity.Key][]sanction)
		s.shards[i].strikes = make(map[strikeKey]strike)
	}
}

// strike counts a sanction by budget on k at t and returns by how much its
// duration doubles: 0 for a first offence, 1 for a second within
// strikeMemory, and so on up to maxStrikeShift.
func (s *sanctions) strike(k identity.Key, budget int, young bool, t int64) int {
	sh := &s.shards[s.shard(k)%sanctionShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sk := strikeKey{k, budget, young}
	st, ok := sh.strikes[sk]
	if !ok && len(sh.strikes) >= sanctionShardCap {
		for victim := range sh.strikes { // forget at random rather than grow
			delete(sh.strikes, victim)
			break
		}
	}
	if !ok || t-st.last > strikeMemory {
		st.n = 0
	}
	shift := min(int(st.n), maxStrikeShift)
	if st.n < 255 {
		st.n++
	}
	st.last = t
	sh.strikes[sk] = st
	return shift
}

func (s *sanctions) shard(k identity.Key) int {
	return int(((k.Hash ^ uint64(k.Kind)) * 0x9e3779b97f4a7c15) >> 58)
}

// active returns the sanctions on k still in force at t. The slice must not be modified.
func (s *sanctions) active(k identity.Key, t int64, enforcing bool) []sanction {
	sh := &s.shards[s.shard(k)%sanctionShards]
	sh.mu.RLock()
	list := sh.m[k]
	sh.mu.RUnlock()
	if len(list) == 0 {
		return nil
	}
	for _, x := range list {
		if x.until <= t || x.shadow && enforcing {
			return s.expire(k, t, enforcing)
		}
	}
	return list
}

// expire drops k's expired sanctions, and those decided in shadow mode if
// enforcing, and returns what is left.
func (s *sanctions) expire(k identity.Key, t int64, enforcing bool) []sanction {
	sh := &s.shards[s.shard(k)%sanctionShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var keep []sanction
	for _, x := range sh.m[k] {
		if x.until > t && !(x.shadow && enforcing) {
			keep = append(keep, x)
		}
	}
	if len(keep) == 0 {
		delete(sh.m, k)
	} else {
		sh.m[k] = keep
	}
	return keep
}

func (s *sanctions) add(k identity.Key, x sanction) {
	sh := &s.shards[s.shard(k)%sanctionShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; !ok && len(sh.m) >= sanctionShardCap {
		// Full: forget expired sanctions first, then the one ending soonest.
		victim, soonest := identity.Key{}, int64(1<<63-1)
		for key, list := range sh.m {
			end := int64(0)
			for _, y := range list {
				end = max(end, y.until)
			}
			if end < soonest {
				victim, soonest = key, end
			}
		}
		delete(sh.m, victim)
	}
	// copy-on-write: readers hold the old slice without a lock
	list := append([]sanction(nil), sh.m[k]...)
	for i := range list {
		if list[i].budget == x.budget && list[i].young == x.young {
			list[i] = x
			sh.m[k] = list
			return
		}
	}
	sh.m[k] = append(list, x)
}

func (s *sanctions) remove(k identity.Key) bool {
	sh := &s.shards[s.shard(k)%sanctionShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	_, ok := sh.m[k]
	delete(sh.m, k)
	return ok
}

func (s *sanctions) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

func sanctioned(list []sanction, budget int, churn bool) bool {
	for _, x := range list {
		if x.budget == budget && (!x.young || churn) {
			return true
		}
	}
	return false
}
