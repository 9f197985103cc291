package detect

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// burstCrew is n signed-in readers on nets /24s (numbered from net), the
// ith on its own address.
func burstCrew(n, nets int, net uint64) []identity.Actor {
	m := make([]identity.Actor, n)
	for i := range m {
		m[i] = reader(0xb000+uint64(i), net+uint64(i%nets))
		m[i].Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: mix(0xb0acc0 + uint64(i))}
	}
	return m
}

// readItems has members read items items each, one every every, the ith
// starting at start+i·apart, every other item a popular one (all of them
// when popular), and returns the first item at which each was in a crew
// (-1: none).
func (h *crewHarness) readItems(members []identity.Actor, start, apart, every time.Duration, items int, popular bool) []int {
	in := make([]int, len(members))
	for i := range in {
		in[i] = -1
	}
	for item := range items {
		for i := range members {
			h.read(&members[i], start+time.Duration(i)*apart+time.Duration(item)*every, true, popular || item%2 == 1)
			if in[i] < 0 && members[i].Keys[identity.Crew].Hash != 0 {
				in[i] = item
			}
		}
	}
	return in
}

// The ninth red team's crew, live again (2026-12-08): 50-70 accounts on
// 4-6 /24s, each loading an item's page before its reviews every 1.2-2.1
// s, half its items popular ones. Each member was colder than people
// beyond chance only after some thirty responses, and counted towards a
// cohort only after twenty: 7,487-7,872 people in 90 s. Its members all
// started within a second, a dozen to a /24 that had been quiet.
func TestEvasionPagedCrewWithPopularItems(t *testing.T) {
	h := newCrewHarness()
	members := burstCrew(60, 5, 1000)
	in := h.readItems(members, 0, 20*time.Millisecond, 2200*time.Millisecond, 6, false)
	for i, item := range in {
		if item < 0 || item > 2 {
			t.Fatalf("member %d of sixty started at once on five quiet /24s, half its items popular: in a crew at item %d (-1: none of six), want by its third", i, item)
		}
	}
	// One who arrives on one of those /24s ten minutes on is not of it.
	late := reader(0xbf00, 1000)
	late.Keys[identity.Account] = identity.Key{Kind: identity.Account, Hash: mix(0xb0acff)}
	h.read(&late, 10*time.Minute, true, false)
	for item := range 3 {
		h.read(&late, 10*time.Minute+time.Duration(1+item)*4*time.Second, true, false)
		if c := late.Keys[identity.Crew]; c.Hash != 0 {
			t.Fatalf("a reader arriving on the burst's /24 ten minutes on in crew %v at item %d", c, item)
		}
	}
}

func TestBurstMustNotTrip(t *testing.T) {
	tests := []struct {
		name          string
		members, nets int
		apart         time.Duration // between starts
		popular       bool          // every item a popular one (else every other)
		busy          bool          // their /24s had arrivals all the hour before
		fresh         bool          // the proxy has just started
	}{
		{"people arriving together on quiet /24s, reading what people read", 60, 5, 20 * time.Millisecond, true, false, false},
		{"fewer than the quorum", cohortQuorum - 1, 5, 20 * time.Millisecond, false, false, false},
		{"on fewer /24s than a cohort's", 60, cohortNets - 1, 20 * time.Millisecond, false, false, false},
		{"one to three to a /24", 60, 20, 20 * time.Millisecond, false, false, false},
		{"one every three seconds", 60, 5, 3 * time.Second, false, false, false},
		{"on /24s people arrive on all the time", 60, 5, 20 * time.Millisecond, false, true, false},
		{"with a proxy that has just started", 60, 5, 20 * time.Millisecond, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, start := newCrewHarness(), time.Duration(0)
			if tt.fresh {
				// As if its first record call were now: at a start,
				// everyone about arrives at once.
				h.d.behaviour.firstCall.Store(epoch)
			}
			if tt.busy {
				// Twelve an hour a /24 (2 each 10 s for an hour), reading
				// what people read, one call each.
				for i := range 720 * tt.nets {
					a := reader(0xc00000+uint64(i), 1000+uint64(i%tt.nets))
					h.read(&a, time.Duration(i)*time.Hour/time.Duration(720*tt.nets), true, true)
				}
				start = time.Hour
			}
			members := burstCrew(tt.members, tt.nets, 1000)
			for i, item := range h.readItems(members, start, tt.apart, 2200*time.Millisecond, 6, tt.popular) {
				if item >= 0 {
					t.Fatalf("member %d in a crew at item %d", i, item)
				}
			}
		})
	}
}
