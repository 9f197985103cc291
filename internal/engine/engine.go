// Package engine is leakguard's one detection engine. It is driven by the
// event time it is given, never the wall clock, so the same code decides
// live in the proxy, over months of replayed logs, and in simulation.
//
// Per request it is called twice: Admit before the request is forwarded (is
// any key of this actor under a sanction, or over a budget?) and Observe
// once the records served are known (meter them, trip budgets).
package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Meter counts the distinct records each actor key receives. meter/memory
// implements it.
type Meter interface {
	// Observe meters one request and writes upper bounds of the counts.
	Observe(now int64, k identity.Key, recs []records.Found, miss bool, counts []uint64) (touched uint64)
	// Bound is a cheap upper bound of Count.
	Bound(now int64, k identity.Key, ent, window int) uint64
	// Count is the distinct count (an estimate for large actors).
	Count(now int64, k identity.Key, ent, window int) uint64
	Windows() []time.Duration
	// Resolution is how often a window's count can fall: its bucket width.
	Resolution(window int) time.Duration
}

// Action is what the engine does about an actor.
type Action uint8

const (
	Allow Action = iota
	Log
	Throttle
	Block
)

var actionNames = [...]string{"allow", "log", "throttle", "block"}

func (a Action) String() string { return actionNames[a] }

// ParseAction parses log, throttle or block.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames[1:] {
		if n == s {
			return Action(i + 1), nil
		}
	}
	return Allow, fmt.Errorf("unknown action %q", s)
}

// Budget limits the distinct records of one entity an actor key may receive in a window.
type Budget struct {
	ID       string
	Entity   string
	Per      identity.Kind
	Window   time.Duration
	Limit    uint64
	Action   Action
	BlockFor time.Duration

	ent, wi int
}

// Decision is one budget tripping: the line an operator reads in the decision log.
type Decision struct {
	Time   time.Time
	Rule   string
	Action Action
	Shadow bool // decided but not enforced
	Key    identity.Key
	Actor  identity.Actor
	Route  string
	Entity string
	Count  uint64
	Limit  uint64
	Window time.Duration
	Until  time.Time
}

// Verdict is what to do with one request.
type Verdict struct {
	Action     Action // Allow, Throttle or Block
	Shadow     bool   // the action is only logged, not applied
	RetryAfter time.Duration
	Rule       string
	Key        identity.Key
}

// Enforced reports whether the request must be refused.
func (v Verdict) Enforced() bool { return v.Action >= Throttle && !v.Shadow }

// Options configure an Engine.
type Options struct {
	Entities []string // entity names; records.Found.Entity indexes this
	Budgets  []Budget
	Shadow   bool
	// OnDecision receives every decision, in the goroutine that made it.
	OnDecision func(Decision)
}

// Engine meters actors and applies budgets.
type Engine struct {
	meter     Meter
	entities  []string
	windows   []time.Duration
	budgets   []Budget
	byKind    [identity.NumKinds][]int
	shadow    atomic.Bool
	sanctions sanctions
	onDecide  func(Decision)
	countsLen int
	pool      sync.Pool
}

// New returns an engine over a meter. Every budget's window must be one of the meter's.
func New(m Meter, o Options) (*Engine, error) {
	e := &Engine{meter: m, entities: o.Entities, windows: m.Windows(), onDecide: o.OnDecision}
	if e.onDecide == nil {
		e.onDecide = func(Decision) {}
	}
	e.shadow.Store(o.Shadow)
	for i, b := range o.Budgets {
		b.ent = -1
		for j, name := range o.Entities {
			if name == b.Entity {
				b.ent = j
			}
		}
		if b.ent < 0 {
			return nil, fmt.Errorf("budget %s: unknown entity %q", b.ID, b.Entity)
		}
		if b.ent >= 64 {
			return nil, fmt.Errorf("budget %s: at most 64 entities can carry budgets", b.ID)
		}
		b.wi = -1
		for j, w := range e.windows {
			if w == b.Window {
				b.wi = j
			}
		}
		if b.wi < 0 {
			return nil, fmt.Errorf("budget %s: window %s is not metered", b.ID, b.Window)
		}
		if b.Action == Block && b.BlockFor <= 0 {
			b.BlockFor = b.Window
		}
		e.budgets = append(e.budgets, b)
		e.byKind[b.Per] = append(e.byKind[b.Per], i)
	}
	e.countsLen = len(o.Entities) * len(e.windows)
	e.pool.New = func() any { s := make([]uint64, e.countsLen); return &s }
	e.sanctions.init()
	return e, nil
}

// SetShadow switches between shadow (decide and log only) and enforce.
func (e *Engine) SetShadow(on bool) { e.shadow.Store(on) }

// Shadow reports whether the engine is in shadow mode.
func (e *Engine) Shadow() bool { return e.shadow.Load() }

// Budgets returns the budgets in force.
func (e *Engine) Budgets() []Budget { return e.budgets }

// Admit decides whether a request from a may be served at now. It trips
// blocking and throttling budgets an actor is already over (for instance
// after a block expires while its window still holds too many records).
func (e *Engine) Admit(now time.Time, a *identity.Actor, route string) Verdict {
	t := now.UnixNano()
	var v Verdict
	for kind := range identity.NumKinds {
		k := a.Keys[kind]
		if k.Hash == 0 {
			continue
		}
		active := e.sanctions.active(k, t)
		for _, s := range active {
			if s.action > v.Action {
				v = Verdict{Action: s.action, RetryAfter: time.Duration(s.until - t), Rule: e.budgets[s.budget].ID, Key: k}
			}
		}
		for _, bi := range e.byKind[kind] {
			b := &e.budgets[bi]
			if b.Action < Throttle || sanctioned(active, bi) {
				continue
			}
			if e.meter.Bound(t, k, b.ent, b.wi) < b.Limit {
				continue
			}
			if c := e.meter.Count(t, k, b.ent, b.wi); c >= b.Limit {
				s := e.trip(now, a, k, bi, c, route)
				if s.action > v.Action {
					v = Verdict{Action: s.action, RetryAfter: time.Duration(s.until - t), Rule: b.ID, Key: k}
				}
			}
		}
	}
	if v.Action == Log {
		v.Action = Allow
	}
	v.Shadow = v.Action != Allow && e.shadow.Load()
	return v
}

// Exchange is what one request was served.
type Exchange struct {
	Route   string // the record route matched, for the decision log
	Records []records.Found
	Miss    bool // a 4xx on a record route
}

// Observe meters what a request from a was served at now and trips budgets
// its keys now exceed. Whatever it trips applies from the next request on.
func (e *Engine) Observe(now time.Time, a *identity.Actor, x Exchange) {
	t := now.UnixNano()
	cp := e.pool.Get().(*[]uint64)
	counts := *cp
	nw := len(e.windows)
	for kind := range identity.NumKinds {
		k := a.Keys[kind]
		if k.Hash == 0 {
			continue
		}
		touched := e.meter.Observe(t, k, x.Records, x.Miss, counts)
		if touched == 0 {
			continue
		}
		var active []sanction
		looked := false
		for _, bi := range e.byKind[kind] {
			b := &e.budgets[bi]
			if touched&(1<<b.ent) == 0 {
				continue
			}
			if counts[b.ent*nw+b.wi] < b.Limit {
				continue
			}
			if !looked {
				active, looked = e.sanctions.active(k, t), true
			}
			if sanctioned(active, bi) {
				continue
			}
			// The bound reached the limit: now it is worth an estimate.
			if c := e.meter.Count(t, k, b.ent, b.wi); c >= b.Limit {
				e.trip(now, a, k, bi, c, x.Route)
			}
		}
	}
	e.pool.Put(cp)
}

// trip installs a sanction for budget bi on key k and reports the decision.
func (e *Engine) trip(now time.Time, a *identity.Actor, k identity.Key, bi int, count uint64, route string) sanction {
	b := &e.budgets[bi]
	t := now.UnixNano()
	var until int64
	switch b.Action {
	case Block:
		until = t + int64(b.BlockFor)
	default:
		// Throttle (and re-log) until the oldest bucket leaves the window,
		// the first moment the count can fall.
		width := max(int64(e.meter.Resolution(b.wi)), 1)
		until = (t/width + 1) * width
	}
	s := sanction{budget: bi, action: b.Action, until: until}
	e.sanctions.add(k, s)
	e.onDecide(Decision{
		Time: now, Rule: b.ID, Action: b.Action, Shadow: e.shadow.Load(),
		Key: k, Actor: *a, Route: route, Entity: b.Entity,
		Count: count, Limit: b.Limit, Window: b.Window, Until: time.Unix(0, until),
	})
	return s
}

// Unblock lifts every sanction on key k and reports whether there was one.
func (e *Engine) Unblock(k identity.Key) bool { return e.sanctions.remove(k) }

// Sanctioned returns the number of keys under a sanction.
func (e *Engine) Sanctioned() int { return e.sanctions.len() }
