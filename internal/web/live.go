package web

import (
	"time"

	"github.com/leakguard/leakguard/internal/admin"
	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/proxy"
)

// The timeline keeps a sample every 5 s for the last half hour: enough to
// see a campaign start and be contained.
const (
	timelineEvery = 5 * time.Second
	timelineN     = 360
)

// Live is the dashboard's live view of a running proxy: its counters, the
// engine's state, and the timeline of records served (run its Timeline
// for as long as the proxy serves).
type Live struct {
	Timeline  *Timeline
	metrics   *proxy.Metrics
	engine    *engine.Engine
	meter     *memory.Memory
	coldShare func() float64
}

// NewLive reads the proxy's metrics m, its engine and meter, and the
// detector's cold share.
func NewLive(m *proxy.Metrics, eng *engine.Engine, meter *memory.Memory, coldShare func() float64) *Live {
	read := func() (uint64, uint64) {
		_, recs, _, sus := m.Snapshot()
		var n uint64
		for _, v := range recs {
			n += v
		}
		return n, sus
	}
	return &Live{Timeline: &Timeline{Every: timelineEvery, N: timelineN, Read: read}, metrics: m, engine: eng, meter: meter, coldShare: coldShare}
}

// Stats is the view now.
func (l *Live) Stats() admin.Stats {
	req, recs, dec, sus := l.metrics.Snapshot()
	mode := config.ModeEnforce
	if l.engine.Shadow() {
		mode = config.ModeShadow
	}
	return admin.Stats{Time: time.Now().UTC(), Mode: mode, Requests: req, Records: recs, Decisions: dec, SuspectRecs: sus,
		ColdShare: l.coldShare(), ActorKeys: l.meter.Len(), Sanctioned: l.engine.Sanctioned(),
		Timeline: l.Timeline.Samples(), TimelineEvery: config.FormatDuration(timelineEvery)}
}
