package detect

import (
	"math"
	"sync/atomic"

	"github.com/leakguard/leakguard/internal/identity"
)

const seenBits = 1 << 23

// bump increments a record's count and returns its count before.
func (b *Behaviour) bump(h uint64) uint16 {
	est := uint8(math.MaxUint8)
	var idx [cmsRows]uint32
	for r := 0; r < cmsRows; r++ {
		x := mix(h + uint64(r)*0x9e3779b97f4a7c15)
		idx[r] = uint32(x & (cmsWidth - 1))
		est = min(est, b.cms[r][idx[r]])
	}
	for r := 0; r < cmsRows; r++ {
		// conservative update: raise only the counters at the minimum
		if c := &b.cms[r][idx[r]]; *c == est && *c < math.MaxUint8 {
			*c++
		}
	}
	return uint16(est)
}

func (b *Behaviour) estimate(h uint64) uint16 {
	est := uint8(math.MaxUint8)
	for r := 0; r < cmsRows; r++ {
		x := mix(h + uint64(r)*0x9e3779b97f4a7c15)
		est = min(est, b.cms[r][x&(cmsWidth-1)])
	}
	return uint16(est)
}

// firstTo reports whether record h is served to address addr for the
// first time since the sketch last halved (always, for no address), and
// notes it.
func (b *Behaviour) firstTo(h, addr uint64) bool {
	if addr == 0 {
		return true
	}
	x := mix(h ^ mix(addr))
	i, j := x&(seenBits-1), (x>>32)&(seenBits-1)
	wi, bi, wj, bj := i/64, uint64(1)<<(i%64), j/64, uint64(1)<<(j%64)
	if b.seen[wi]&bi != 0 && b.seen[wj]&bj != 0 {
		return false
	}
	b.seen[wi] |= bi
	b.seen[wj] |= bj
	return true
}

// lookup notes a lookup of the value with record hash h, and reports
// UnshownLookups once the address's recent lookups (at least 20) are
// mostly (90%) of values the platform never served to anyone: guesses, or
// a list from elsewhere being checked. A person looks up a few contacts;
// an enumerator, thousands. "Never served" is platform-wide (the
// popularity sketch) rather than per address: per-address sets would cost
// memory for every address, and a crew shares what one member was shown.
func (b *Behaviour) lookup(k identity.Key, h uint64) Signals {
	if k.Hash == 0 {
		return 0
	}
	b.cmsMu.Lock()
	shown := b.estimate(h) > 0
	b.cmsMu.Unlock()
	sh := &b.shards[k.Hash>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := b.state(k, true)
	st.lookups++
	if !shown {
		st.unshown++
	}
	if st.lookups > 256 {
		st.lookups, st.unshown = st.lookups/2, st.unshown/2
	}
	if st.lookups >= 20 && float64(st.unshown) >= 0.9*float64(st.lookups) {
		return UnshownLookups
	}
	return 0
}

// warm reports whether popularity means anything yet: until the sketch has
// seen ColdWarmup records, everything anyone is served is cold (a proxy
// just started), and so would every shopper's sweep be.
func (b *Behaviour) warm() bool { return b.everServed.Load() >= b.ColdWarmup }

// ColdShare is the share of recently served records, platform-wide, that
// were cold when served.
func (b *Behaviour) ColdShare() float64 {
	return share(&b.recentCold, &b.recent, 0)
}

// PacedColdShare is the share of recent responses to keys at a person's
// pace whose records were mostly cold: low once popularity means something
// (people are mostly shown popular records), high just after start, when
// everything is cold. A crew cannot raise it by sweeping fast.
func (b *Behaviour) PacedColdShare() float64 {
	return share(&b.pacedCold, &b.paced, 1)
}

func share(part, whole *atomic.Uint64, empty float64) float64 {
	n := whole.Load()
	if n == 0 {
		return empty
	}
	return float64(part.Load()) / float64(n)
}
