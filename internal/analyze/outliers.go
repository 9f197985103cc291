package analyze

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/human"
	"github.com/leakguard/leakguard/internal/identity"
)

// Outliers against the population: with no budget at all, a key that took
// orders of magnitude more distinct records in a report window than the
// legitimate keys of its kind is a suspect. "Legitimate" must not be
// learned from the scrapers inside the log, so the population's tail is a
// high quantile over keys that are neither suspects nor tied to one, after
// setting aside keys far above its bulk.
const (
	defaultOutlierFloor  = 1000 // no key is an outlier below this, whatever its kind's tail
	defaultOutlierFactor = 10   // ... nor below this many times the tail
	tailQuantile         = 0.999
	bulkQuantile         = 0.9
	// Keys above both the floor and bulkFactor × the bulk quantile are
	// left out of the tail: a handful of keys 10,000× above the rest must
	// not raise it, even when they are more than 0.1% of the keys.
	bulkFactor = 100
)

// crossing is when a key's peak in a report window first reached
// floor × 2^level records (level -1: its last rise), with its lifetime
// records per entity then: an outlier is found after the replay, and the
// report says when it would have been found.
type crossing struct {
	ent, wi uint8
	level   int8
	at      time.Time
	before  []uint32
	// the sketches' estimates then, while exact counts are kept (see
	// Analyzer.counts)
	beforeEst []uint32
}

// cross notes a rise of ac's peak of entity ent in window wi to v.
func (a *Analyzer) cross(ac *actor, t time.Time, ent, wi int, v uint32) {
	floor := uint32(a.o.OutlierFloor)
	if v < floor {
		return
	}
	level := int8(bits.Len32(v/floor) - 1)
	top, last := -1, int8(-1)
	for i, c := range ac.crossings {
		if int(c.ent) == ent && int(c.wi) == wi {
			if c.level < 0 {
				top = i
			} else {
				last = max(last, c.level)
			}
		}
	}
	if top >= 0 {
		ac.crossings[top].at = t
	} else {
		ac.crossings = append(ac.crossings, crossing{ent: uint8(ent), wi: uint8(wi), level: -1, at: t})
	}
	if level > last {
		cnt, est := a.counts(ac)
		c := crossing{ent: uint8(ent), wi: uint8(wi), level: level, at: t, before: make([]uint32, len(cnt))}
		for i, n := range cnt {
			c.before[i] = uint32(n)
		}
		if est != nil {
			c.beforeEst = make([]uint32, len(est))
			for i, n := range est {
				c.beforeEst[i] = uint32(n)
			}
		}
		ac.crossings = append(ac.crossings, c)
	}
}

// outlierValue is what a key is judged on: its peak, per person seen
// behind it for an address or /24 (a carrier NAT's hundreds of shoppers
// are not one actor).
func outlierValue(ac *actor, i int) float64 {
	v := float64(ac.peak[i])
	if ac.key.Kind == identity.IP || ac.key.Kind == identity.Net {
		v /= float64(ac.persons())
	}
	return v
}

// tied returns the keys that belong to a suspect: suspects, and every key
// seen on the same requests as one (its address, account, session, crew).
// A suspect /24 does not taint its neighbours.
func (a *Analyzer) tied() map[identity.Key]bool {
	out := map[identity.Key]bool{}
	for _, ac := range a.actors {
		if !ac.suspect() {
			continue
		}
		out[ac.key] = true
		if ac.key.Kind == identity.Net || ac.key.Kind == identity.Fingerprint {
			continue
		}
		ac.links.each(func(k identity.Key) { out[k] = true })
	}
	return out
}

// quantile is the value at rank floor(n×q) of sorted xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, int(float64(len(xs))*q))]
}

// OutlierTail is the legitimate tail of one key kind in one report window,
// and the take above which a key was flagged.
type OutlierTail struct {
	Entity    string  `json:"entity"`
	Per       string  `json:"per"`
	Window    string  `json:"window"`
	Keys      int     `json:"keys"`      // keys the tail rests on
	Tail      float64 `json:"p99_9"`     // their 99.9th percentile (per person for ip and net)
	Threshold float64 `json:"flag_over"` // max(floor, factor × tail)
	Flagged   int     `json:"flagged"`
}

// flagOutliers marks the outliers as suspects, once, before the report.
// Two rounds: the first round's outliers tie their other keys, which then
// leave the population the second round learns from.
func (a *Analyzer) flagOutliers() {
	if a.outliersDone || a.o.Meter == nil {
		return
	}
	a.outliersDone = true
	var tails []OutlierTail
	// Groups (kind, entity, window) by index, not in maps: the walks look
	// a group up for every key and window, over every key held.
	ne, nw := len(a.entities), a.nw
	group := func(kind identity.Kind, ent, wi int) int { return (int(kind)*ne+ent)*nw + wi }
	pop := make([][]float64, int(identity.NumKinds)*ne*nw)
	thresholds := make([]float64, len(pop))
	// A key's peak past the floor, in a group: no threshold is below the
	// floor, so only these are judged, without a second walk of every key.
	type candidate struct {
		ac      *actor
		ent, wi int
	}
	var cands []candidate
	floor := float64(a.o.OutlierFloor)
	for round := range 2 {
		flagged := false
		tails = tails[:0]
		cands = cands[:0]
		tied := a.tied()
		for g := range pop {
			pop[g] = pop[g][:0]
		}
		for _, ac := range a.actors {
			// An allowlisted partner is not a person: it neither sets
			// the tail nor is judged against it (it meets its own budgets).
			if ac.peak == nil || ac.key.Kind == identity.Fingerprint || tied[ac.key] || ac.exempt {
				continue
			}
			for ent := range a.entities {
				for _, wi := range a.reportWins {
					if i := ent*nw + wi; i < len(ac.peak) && ac.peak[i] > 0 {
						g := group(ac.key.Kind, ent, wi)
						v := outlierValue(ac, i)
						pop[g] = append(pop[g], v)
						if v > floor {
							cands = append(cands, candidate{ac, ent, wi})
						}
					}
				}
			}
		}
		for g, h := range a.foldedPeaks { // folded keys were never suspected; per person unknown
			if g.kind == identity.Fingerprint || !slices.Contains(a.reportWins, g.wi) {
				continue
			}
			gi := group(g.kind, g.ent, g.wi)
			for v, n := range h {
				for range n {
					pop[gi] = append(pop[gi], float64(v))
				}
			}
		}
		for kind := range identity.NumKinds {
			if kind == identity.Fingerprint {
				continue
			}
			for ent := range a.entities {
				for _, wi := range a.reportWins {
					g := group(kind, ent, wi)
					xs := pop[g]
					slices.Sort(xs)
					cut := max(float64(a.o.OutlierFloor), bulkFactor*quantile(xs, bulkQuantile))
					n := len(xs)
					for n > 0 && xs[n-1] > cut {
						n--
					}
					tail := quantile(xs[:n], tailQuantile)
					thresholds[g] = max(float64(a.o.OutlierFloor), a.o.OutlierFactor*tail)
					if len(xs) > 0 || kind == identity.Crew {
						tails = append(tails, OutlierTail{Entity: a.entities[ent], Per: kind.String(), Window: human.Window(a.o.Meter.Windows()[wi]),
							Keys: n, Tail: tail, Threshold: thresholds[g]})
					}
				}
			}
		}
		// A key tied to a suspect is in that suspect's row already (its
		// /24, the address its account used): outliers are for what
		// nothing else found. The candidates are untied; a key's come in
		// the order of its entities and windows, and the first it passes
		// flags it.
		for _, c := range cands {
			ac := c.ac
			if ac.suspect() {
				continue
			}
			thr := thresholds[group(ac.key.Kind, c.ent, c.wi)]
			if v := outlierValue(ac, c.ent*nw+c.wi); v > thr {
				a.flagOutlier(ac, c.ent, c.wi, thr*float64(ac.peakPer()))
				flagged = true
			}
		}
		// With no outlier the first round tied no key: the second would
		// learn from the same population and flag none either.
		if round == 0 && !flagged {
			break
		}
	}
	// One walk of the actors for every tail's count: a walk per tail
	// (dozens, over hundreds of thousands of keys) was a third of the
	// report's time.
	flagged := map[string]int{}
	for _, ac := range a.actors {
		if ac.outlier {
			flagged[ac.rule]++
		}
	}
	for i := range tails {
		tails[i].Flagged = flagged["outlier/"+tails[i].Entity+"/"+tails[i].Per+"/"+tails[i].Window]
	}
	slices.SortFunc(tails, func(x, y OutlierTail) int {
		return strings.Compare(x.Entity+"\x00"+x.Per+"\x00"+x.Window, y.Entity+"\x00"+y.Per+"\x00"+y.Window)
	})
	a.tails = tails
}

// peakPer is what outlierValue divides the peak by.
func (ac *actor) peakPer() int {
	if ac.key.Kind == identity.IP || ac.key.Kind == identity.Net {
		return ac.persons()
	}
	return 1
}

// flagOutlier makes ac a suspect whose peak in window wi passed raw (the
// threshold in its own records), dated when its peak first reached the
// ladder step at or above raw: at the latest, when it would have been found.
func (a *Analyzer) flagOutlier(ac *actor, ent, wi int, raw float64) {
	var at *crossing
	for i := range ac.crossings {
		c := &ac.crossings[i]
		if int(c.ent) != ent || int(c.wi) != wi {
			continue
		}
		if c.level >= 0 && float64(uint64(a.o.OutlierFloor)<<c.level) >= raw && (at == nil || at.level < 0 || c.level < at.level) {
			at = c
		}
		if c.level < 0 && at == nil {
			at = c
		}
	}
	ac.outlier = true
	f := &finding{rule: fmt.Sprintf("outlier/%s/%s/%s", a.entities[ent], ac.key.Kind, human.Window(a.o.Meter.Windows()[wi])),
		action: "report", atCount: uint64(ac.peak[ent*a.nw+wi]), detected: ac.last}
	if at != nil {
		f.detected = at.at
	}
	f.beforeCnt = make([]uint64, len(a.entities))
	for i := range f.beforeCnt {
		switch {
		case at != nil && a.inexact && at.beforeEst != nil:
			f.beforeCnt[i] = uint64(at.beforeEst[i])
		case at != nil && at.before != nil:
			f.beforeCnt[i] = uint64(at.before[i])
		default:
			f.beforeCnt[i] = uint64(a.count(ac, i))
		}
	}
	ac.finding = f
}
