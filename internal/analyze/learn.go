package analyze

import (
	"slices"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// learner lets the budgets marked learn: true learn in a replay as the
// proxy's do (engine.Calibrate), on the log's clock: every minute of the
// log's time at first, then every calibrate_every, from what the keys the
// meter holds take then, at the line where that time comes, before it is
// replayed. A replay that did not learn held every session and person
// behind an address to the written 300 an hour, where the proxy in front
// of the same traffic would have learnt: an outside red team's log had 40
// heavy shoppers reading 309-328 profiles in a session-hour, and 10 of
// their addresses and 5 sessions were flagged (2026-12-06).
type learner struct {
	m     *memory.Memory
	e     *engine.Engine
	every time.Duration
	// start: the log's time at its first replayed line; next: of the next
	// calibration (0: none yet)
	start, next int64
	// lines: the lines replayed since the last calibration; spacing: how
	// many must be before the next, eight for each key that one read. Each
	// reads every key of the kinds that learn and counts it afresh: at
	// the proxy's pace alone, every minute of a log's time at first, a
	// 300,000-line log of three hours and 62,000 keys was replayed at
	// 93,000 lines a second, where 234,000 without learning; so spaced,
	// reading only those kinds (Memory.EachOf) and leaving the meter's
	// recency list unkept after, 1.03 times the CPU (2026-12-06).
	lines, spacing int
	// learnt: each budget's last calibration, by budget, for the report
	learnt map[string]engine.Calibration
}

func newLearner(m *memory.Memory, e *engine.Engine, every time.Duration) *learner {
	if m == nil || e == nil || every <= 0 {
		return nil
	}
	return &learner{m: m, e: e, every: every, learnt: map[string]engine.Calibration{}}
}

// due reports whether a calibration comes before the line at t (ns).
func (l *learner) due(t int64) bool {
	if l == nil {
		return false
	}
	if l.next == 0 {
		l.start, l.next = t, t+int64(engine.CalibrationWait(0, l.every))
	}
	l.lines++
	return t >= l.next && l.lines > l.spacing
}

// calibrate learns at t (ns), the engine standing after the line before.
func (l *learner) calibrate(t int64) {
	now := time.Unix(0, t)
	read := 0
	each := func(wi int, fn func(identity.Key, []uint64)) {
		l.m.EachOf(t, wi, l.e.Learns, func(ac memory.ActorCount) {
			read++
			fn(ac.Key, ac.Records)
		})
	}
	for _, cal := range l.e.Calibrate(now, each) {
		// A calibration with too few keys to learn from keeps the limit
		// and says nothing of a tail: the report shows the last that did.
		if _, ok := l.learnt[cal.Budget]; cal.Tail > 0 || !ok {
			l.learnt[cal.Budget] = cal
		}
	}
	l.next = t + int64(engine.CalibrationWait(time.Duration(t-l.start), l.every))
	l.lines, l.spacing = 0, 8*read
}

// moved is the last calibration of each budget whose limit it left above
// the written one, by budget.
func (l *learner) moved() []engine.Calibration {
	if l == nil {
		return nil
	}
	var out []engine.Calibration
	for _, c := range l.learnt {
		if c.Learnt > c.Limit {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b engine.Calibration) int { return strings.Compare(a.Budget, b.Budget) })
	return out
}
