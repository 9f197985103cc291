package analyze

import (
	"maps"
	"slices"
	"sync/atomic"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// The analyzer's stage of a sharded replay runs on as many goroutines as
// the engine's stage, each an Analyzer of its own holding the keys of its
// partitions (memory.Partition modulo the goroutines), as a shard pass
// holds its own (Options.Parts). Each reads every line of every chunk in
// order, once the engine's goroutines are done with it, and applies to
// its own keys what the one-goroutine stage applies: each key's totals,
// then the line's decisions on it, then its peaks. Nothing a key's rows
// hold reads another key's, so each row comes out as the one-goroutine
// stage makes it; what is not per key:
//
//   - the counts of lines (read, malformed, out of order, outside the
//     window) and the first and last times: every goroutine counts them
//     all, and the join takes the first's;
//   - --exact's limit on all keys' pairs: the goroutines add to one count,
//     and the report is the same whenever each notices it passed (Analyzer.addExact);
//   - --max-keys: each goroutine folds its own keys past its share of the
//     limit. Which keys are folded was already left to the map's random
//     order, so a report with folded keys differs from run to run, sharded
//     or not.
//
// After the replay the goroutines' keys are joined into the analyzer the
// report is built from, as Merge joins shard passes.

// split makes the analyzers of an analyzer's stage on n goroutines, each
// holding a's keys of its partitions; a keeps no key until join.
func (a *Analyzer) split(n int) []*Analyzer {
	subs := make([]*Analyzer, n)
	all := &atomic.Int64{}
	all.Store(int64(a.pairs))
	for w := range subs {
		o := a.o
		o.MaxKeys = (a.o.MaxKeys + n - 1) / n
		s := New(o)
		s.tpart, s.tparts, s.pairsAll = w, n, all
		s.lines, s.bad, s.badLines, s.truncUA, s.outOfOrd, s.outside = a.lines, a.bad, slices.Clone(a.badLines), a.truncUA, a.outOfOrd, a.outside
		s.first, s.last, s.inexact = a.first, a.last, a.inexact
		s.nextFold = max(s.o.MaxKeys, a.nextFold/n)
		subs[w] = s
	}
	subs[0].pairs = a.pairs
	for id, ac := range a.actors {
		subs[memory.Partition(ac.key)%n].actors[id] = ac
	}
	for k, v := range a.raw {
		subs[memory.Partition(k)%n].raw[k] = v
	}
	a.actors = map[uint64]*actor{}
	if a.raw != nil {
		a.raw = map[identity.Key]string{}
	}
	return subs
}

// join takes back the keys of the analyzers split made, and the totals.
func (a *Analyzer) join(subs []*Analyzer) {
	s0 := subs[0]
	a.lines, a.bad, a.badLines, a.truncUA, a.outOfOrd, a.outside = s0.lines, s0.bad, s0.badLines, s0.truncUA, s0.outOfOrd, s0.outside
	a.first, a.last = s0.first, s0.last
	a.pairs, a.nextFold = 0, 0
	n := 0
	for _, s := range subs {
		n += len(s.actors)
	}
	actors := make(map[uint64]*actor, n)
	for _, s := range subs {
		a.folded += s.folded
		a.pairs += s.pairs
		a.nextFold += s.nextFold
		a.inexact = a.inexact || s.inexact
		_ = a.keys.Merge(s.keys) // both precision 14: no error
		a.addFolded(s.foldedPeaks, s.foldedHours)
		if a.raw != nil {
			maps.Copy(a.raw, s.raw)
		}
		maps.Copy(actors, s.actors)
		s.actors = nil
	}
	a.actors = actors
	a.settleExact()
}

// settleExact gives up exact counts once the keys joined hold more pairs
// than --exact's limit (the single replay gave them up at that total), or
// if any part had: every count is then the sketches' estimate.
func (a *Analyzer) settleExact() {
	if a.o.Exact && a.pairs > a.o.ExactLimit {
		a.inexact = true
	}
	if a.inexact {
		for _, ac := range a.actors {
			ac.exact = nil
		}
	}
}

// addFolded adds another analyzer's folded keys' peaks and hours (a shard
// pass's, a goroutine's) to a's.
func (a *Analyzer) addFolded(peaks map[peakGroup]map[uint32]int, hours map[int32]uint32) {
	for g, h := range peaks {
		if a.foldedPeaks[g] == nil {
			a.foldedPeaks[g] = map[uint32]int{}
		}
		for v, n := range h {
			a.foldedPeaks[g][v] += n
		}
	}
	for h, n := range hours {
		a.foldedHours[h] += n
	}
}
