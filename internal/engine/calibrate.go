package engine

import (
	"slices"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// Calibration: the static default budgets protect from the first request;
// learning only moves a limit within [Limit, LearnMax×Limit], so a proxy
// started a minute ago is not open, and one in front of a platform whose
// people read more than the defaults assume stops refusing them.
const (
	// LearnMax is how far above its written limit learning may take a budget.
	LearnMax = 10
	// LearnMinKeys: fewer keys of a kind than this say nothing about its tail.
	LearnMinKeys = 200
	// learnHeadroom is how far above the legitimate tail a limit is set.
	learnHeadroom = 3
)

// CalibrationWait is how long after a calibration, up to running for
// ran, the next one comes: every minute during the first every, then
// every every. A proxy just started (or the demo) has its heaviest
// readers at the written limits within minutes: the demo's shoppers, a
// page every few seconds, passed 300 distinct reviewers a session in
// under three minutes, and the first calibration came at five
// (2026-12-02). Learning still only raises limits within their bounds.
// The proxy waits so on its clock, a log's replay in the log's time.
func CalibrationWait(ran, every time.Duration) time.Duration {
	if ran < every {
		return min(every, time.Minute)
	}
	return every
}

// Calibration is one budget's learned limit, as the decision log, the
// admin API and `leakguard policy` show it.
type Calibration struct {
	Budget string        `json:"budget"`
	Per    string        `json:"per"`
	Window time.Duration `json:"window"`
	Keys   int           `json:"keys"`   // legitimate keys it learned from
	Tail   uint64        `json:"tail"`   // their 99.9th percentile take
	Limit  uint64        `json:"limit"`  // the written limit, the floor
	Learnt uint64        `json:"learnt"` // the limit in force
}

// CountsFunc calls fn with every key the meter holds that was active in
// window wi, and its distinct records per entity.
type CountsFunc func(wi int, fn func(k identity.Key, records []uint64))

// Calibrate learns the limits of budgets marked Learn from what keys of
// their kind take now: the 99.9th percentile of keys that are under no
// sanction, trimmed of any key a hundred times above the 90th (a handful
// of scrapers must not raise the limit) and at most ten times the 90th
// (crews kept under the limit must not either), times three, between the
// written limit and LearnMax times it. A kind with fewer than
// LearnMinKeys keys keeps what it had.
func (e *Engine) Calibrate(now time.Time, each CountsFunc) []Calibration {
	t := now.UnixNano()
	byWindow := map[int][]int{}
	for bi := range e.budgets {
		b := &e.budgets[bi]
		if b.learns() {
			byWindow[b.wi] = append(byWindow[b.wi], bi)
		}
	}
	var out []Calibration
	for wi, bis := range byWindow {
		takes := make([][]uint64, len(bis))
		each(wi, func(k identity.Key, recs []uint64) {
			var active []sanction
			looked := false
			for i, bi := range bis {
				b := &e.budgets[bi]
				if k.Kind != b.Per || b.ent >= len(recs) || recs[b.ent] == 0 {
					continue
				}
				if !looked {
					active, looked = e.sanctions.active(k, t, false), true // one judged in shadow mode is a suspect too
				}
				if len(active) > 0 {
					return // a suspect is never a legitimate example
				}
				takes[i] = append(takes[i], recs[b.ent])
			}
		})
		for i, bi := range bis {
			b := &e.budgets[bi]
			c := Calibration{Budget: b.ID, Per: b.Per.String(), Window: b.Window, Keys: len(takes[i]), Limit: b.Limit, Learnt: max(b.Limit, e.learned[bi].Load())}
			if tail, n, ok := learnTail(takes[i]); ok {
				c.Tail, c.Keys = tail, n
				c.Learnt = LearntWithin(b.Limit, learnHeadroom*tail)
				e.learned[bi].Store(c.Learnt)
			}
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Calibration) int {
		if a.Budget < b.Budget {
			return -1
		}
		if a.Budget > b.Budget {
			return 1
		}
		return 0
	})
	return out
}

// Learns reports whether a budget per key kind k learns (what Calibrate
// reads of the keys of other kinds is nothing).
func (e *Engine) Learns(k identity.Kind) bool {
	for bi := range e.budgets {
		if b := &e.budgets[bi]; b.Per == k && b.learns() {
			return true
		}
	}
	return false
}

// learns reports whether Calibrate learns b's limit from its own keys: a
// per-person budget follows its session budget's, an allowlisted one is
// its partner's own.
func (b *Budget) learns() bool { return b.Learn && b.ent >= 0 && !b.Allowlisted && !b.PerPerson }

// LearntWithin is learnt limit v kept within the bounds of a budget
// written at limit: never below it, never above LearnMax times it. The
// same bounds hold for what calibration sets, what a restart restores and
// what `leakguard policy --learnt` freezes.
func LearntWithin(limit, v uint64) uint64 {
	return min(max(limit, v), LearnMax*limit)
}

// learnTopKeys: the tail is never above the learnTopKeys-th highest take.
// On a platform of a few thousand sessions the 99.9th percentile is the
// top four, and four keys kept just under a limit tripled it at each
// calibration for everyone: a handful must not move the limit.
const learnTopKeys = 10

// learnSpread: a learnt tail is never above learnSpread times the 90th
// percentile. Ninety accounts of two crews, each kept under the written
// 2,000 a day with pages around its calls, were 7% of a day's 1,200
// accounts: the 99.9th percentile was theirs (1,754, people's most 221)
// and learning raised the limit to 5,262 for everyone, the crews too (a
// red team's log replay, 2026-12-07). The 90th (65) was still people's.
// A platform whose heaviest readers are further above its 90th than
// this learns less far, and meets the written limits as without learning.
// Outliers are judged on robustTail alone: a cap there would lower the
// bar under a heavy-tailed population's own heaviest.
const learnSpread = 10

// learnTail is robustTail, but not above learnSpread times the 90th
// percentile.
func learnTail(xs []uint64) (tail uint64, n int, ok bool) {
	if tail, n, ok = robustTail(xs); ok { // sorts xs
		tail = min(tail, learnSpread*max(xs[len(xs)*9/10], 1))
	}
	return tail, n, ok
}

// robustTail is the 99.9th percentile of xs once values above a hundred
// times the 90th are set aside, but not above the learnTopKeys-th highest,
// and how many values it read.
func robustTail(xs []uint64) (tail uint64, n int, ok bool) {
	if len(xs) < LearnMinKeys {
		return 0, len(xs), false
	}
	slices.Sort(xs)
	p90 := xs[len(xs)*9/10]
	cut := len(xs)
	for cut > 0 && xs[cut-1] > 100*max(p90, 1) {
		cut--
	}
	xs = xs[:cut]
	return xs[max(0, min(len(xs)*999/1000, len(xs)-learnTopKeys))], len(xs), true
}

// Learned returns the limits learning has set, by budget: a per-person
// budget's is the one per person it follows (limit).
func (e *Engine) Learned() map[string]uint64 {
	out := map[string]uint64{}
	for bi := range e.budgets {
		l := e.learned[bi].Load()
		if f := e.budgets[bi].follows; f >= 0 {
			l = e.learned[f].Load()
		}
		if l > e.budgets[bi].Limit {
			out[e.budgets[bi].ID] = l
		}
	}
	return out
}

// Outlier thresholds: a key is an outlier when its take is above both
// OutlierFloor and OutlierFactor times the robust tail of its kind.
const (
	OutlierFloor  = 1000
	OutlierFactor = 10
)

// FlagOutliers looks at what every key took in window wi and reports, as a
// log decision (rule outlier/<entity>/<kind>/<window>), each key whose take
// is orders of magnitude above the legitimate tail of its kind: even with
// no budget written and the default policy off, "one actor has seen
// 800,000 people" is said. seen is called first for each outlier and
// returns false for one already reported (the caller keeps that memory).
func (e *Engine) FlagOutliers(now time.Time, wi int, each CountsFunc, seen func(identity.Key, int) bool) int {
	t := now.UnixNano()
	type take struct {
		k identity.Key
		n uint64
	}
	var byKind [identity.NumKinds][][]take // kind → entity → takes
	for k := range byKind {
		byKind[k] = make([][]take, len(e.entities))
	}
	each(wi, func(k identity.Key, recs []uint64) {
		if k.Kind == identity.Crew || int(k.Kind) >= len(byKind) {
			return // crews are never people: their budgets say enough
		}
		for ent := range min(len(recs), len(e.entities)) {
			if recs[ent] > 0 {
				byKind[k.Kind][ent] = append(byKind[k.Kind][ent], take{k, recs[ent]})
			}
		}
	})
	flagged := 0
	for kind := range byKind {
		for ent, takes := range byKind[kind] {
			var legit []uint64
			for _, x := range takes {
				if len(e.sanctions.active(x.k, t, false)) == 0 { // with those judged in shadow mode
					legit = append(legit, x.n)
				}
			}
			tail, _, ok := robustTail(legit)
			if !ok {
				continue
			}
			bar := max(OutlierFloor, OutlierFactor*tail)
			for _, x := range takes {
				if x.n <= bar || !seen(x.k, ent) {
					continue
				}
				flagged++
				e.onDecide(Decision{Time: now, Rule: "outlier/" + e.entities[ent] + "/" + identity.Kind(kind).String() + "/" + e.windows[wi].String(),
					Action: Log, Shadow: e.shadow.Load(), Key: x.k, Actor: identity.Actor{}, Entity: e.entities[ent],
					Count: x.n, Limit: bar, Window: e.windows[wi]})
			}
		}
	}
	return flagged
}
