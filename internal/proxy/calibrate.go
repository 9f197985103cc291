package proxy

import (
	"context"
	"time"

	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// maxOutliersReported bounds the outliers remembered as reported; past it
// they are forgotten, and one still far out may be reported again.
const maxOutliersReported = 100_000

// Calibrate lets the budgets marked learn: true learn from what the keys
// the meter holds take, every every, until ctx is done, and calls learnt
// with each budget whose learnt limit moved since it last did. It also
// reports, once each, keys far above their kind's tail in reportWindows
// (outliers), budget or none.
func Calibrate(ctx context.Context, every time.Duration, m *memory.Memory, eng *engine.Engine, reportWindows []time.Duration, learnt func(engine.Calibration)) {
	start := time.Now()
	tick := time.NewTimer(engine.CalibrationWait(0, every))
	defer tick.Stop()
	last := map[string]uint64{}
	type outlier struct {
		k   identity.Key
		ent int
	}
	reported := map[outlier]bool{}
	var windows []int
	for _, w := range reportWindows {
		if wi := m.WindowIndex(w); wi >= 0 {
			windows = append(windows, wi)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		tick.Reset(engine.CalibrationWait(now.Sub(start), every))
		each := func(wi int, fn func(identity.Key, []uint64)) {
			m.Each(now.UnixNano(), wi, func(ac memory.ActorCount) { fn(ac.Key, ac.Records) })
		}
		if len(reported) > maxOutliersReported {
			clear(reported)
		}
		for _, wi := range windows {
			eng.FlagOutliers(now, wi, each, func(k identity.Key, ent int) bool {
				o := outlier{k, ent}
				if reported[o] {
					return false
				}
				reported[o] = true
				return true
			})
		}
		for _, cal := range eng.Calibrate(now, each) {
			if cal.Learnt != last[cal.Budget] {
				learnt(cal)
				last[cal.Budget] = cal.Learnt
			}
		}
	}
}
