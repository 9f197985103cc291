package proxy

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxHeldBodyBytes bounds the decoded body bytes the proxy keeps
// whole for inspection, summed over every response in flight. A body up
// to inspect.max_body_bytes is kept whole so that one gjson pass reads it
// at the end; held by each of 10,000 connections (limits.max_conns) whose
// clients do not read, that was 10 GiB, and off the record routes nothing
// caps the requests in flight (a probe: 600 connections took the proxy
// from 38 MB to 903 MB). 256 MiB is 256 bodies of the default 1 MiB, or
// four of the largest max_body_bytes allowed (64 MiB), at once; bodies of
// a few KiB, the usual API page, fill it only by the ten thousand.
//
// Bodies read whole to be rewritten (decoys, sprinkles) count here too,
// as bodies off the record routes (Proxy.readHeld).
//
// A body that finds no room is inspected as it streams, as a body larger
// than max_body_bytes is: it finds the same records, in memory that does
// not grow with the body. Off the record routes (pii.scan: all) a body may
// take only half the budget, so that a crowd of them never moves the
// record routes' bodies off the faster whole-body path.
const DefaultMaxHeldBodyBytes = 256 << 20

// heldBudget is the proxy's count of body bytes held whole for
// inspection. It lives in decoders, the proxy's per-instance body state.
type heldBudget struct {
	n   atomic.Int64
	max int64 // 0: DefaultMaxHeldBodyBytes; set by tests
	// full counts bodies moved to the streaming path for want of room.
	full atomic.Uint64
}

func (h *heldBudget) limit(offRoute bool) int64 {
	max := h.max
	if max <= 0 {
		max = DefaultMaxHeldBodyBytes
	}
	if offRoute {
		max /= 2
	}
	return max
}

// take counts n more bytes held, if the sum stays within the limit.
func (h *heldBudget) take(n int64, offRoute bool) bool {
	limit := h.limit(offRoute)
	for {
		cur := h.n.Load()
		if cur+n > limit {
			return false
		}
		if h.n.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (h *heldBudget) give(n int64) {
	if n != 0 {
		h.n.Add(-n)
	}
}

// RegisterHeld adds the held-body series: the bytes held whole for
// inspection now, and the bodies inspected as they streamed because there
// was no room (DefaultMaxHeldBodyBytes).
func (p *Proxy) RegisterHeld(reg prometheus.Registerer) {
	held := &p.dec.held
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_inspect_held_bytes",
		Help: "Decoded response body bytes held whole for inspection or rewriting (decoys, canary sprinkles), over every response in flight (at most 256 MiB; half of it off the record routes and for rewriting)."},
		func() float64 { return float64(held.n.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "leakguard_inspect_held_full_total",
		Help: "Response bodies inspected as they streamed rather than whole because the bytes held for inspection were at their bound (nothing is left uninspected); decoys refused and sprinkles left out for the same reason."},
		func() float64 { return float64(held.full.Load()) }))
}
