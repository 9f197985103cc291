package proxy

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/records"
)

// Metrics are the proxy's Prometheus series. They are registered on the
// registry given, never a global one.
type Metrics struct {
	requests   *prometheus.CounterVec
	records    *prometheus.CounterVec
	decisions  *prometheus.CounterVec
	skipped    *prometheus.CounterVec
	upstreamEr prometheus.Counter
	cut        *prometheus.CounterVec
	latency    prometheus.Histogram
	// inFlightWaits counts record requests that waited for a slot of
	// their address, session or account.
	inFlightWaits prometheus.Counter

	recordsBy []prometheus.Counter // by entity index
	outcome   map[string]prometheus.Counter
	entities  []string
	suspect   prometheus.Counter

	mu       sync.Mutex
	byAction map[string]uint64 // decisions, for Snapshot
}

// body skip reasons
const (
	skipOversized  = "oversized"
	skipEncoding   = "encoding"
	skipMalformed  = "malformed"
	skipIncomplete = "incomplete"
	skipNotJSON    = "not_json"
)

// NewMetrics creates and registers the proxy's metrics.
func NewMetrics(reg prometheus.Registerer, entities []string) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leakguard_requests_total",
			Help: "Requests by outcome: allowed, throttled, blocked, or would_throttle/would_block in shadow mode; state_unavailable (state.fail: closed) and in_flight (waited past limits.in_flight_wait) were answered 503 and 429.",
		}, []string{"outcome"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leakguard_records_served_total",
			Help: "Personal records served, by entity (each record once per response).",
		}, []string{"entity"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leakguard_decisions_total",
			Help: "Budgets tripped, by action and whether in shadow mode.",
		}, []string{"action", "shadow"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leakguard_bodies_skipped_total",
			Help: "Response bodies passed through without inspection, by reason.",
		}, []string{"reason"}),
		cut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leakguard_upstream_bodies_cut_total",
			Help: "Upstream bodies cut or refused, by reason: timeout, size, decoded_size (a decompression bomb), encoding (a coding the proxy cannot decode).",
		}, []string{"reason"}),
		upstreamEr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leakguard_upstream_errors_total",
			Help: "Requests answered 502 because the upstream could not be reached or failed.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leakguard_engine_seconds",
			Help:    "Time spent in identity, records and engine per request, excluding the upstream.",
			Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
		}),
		inFlightWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leakguard_in_flight_waits_total",
			Help: "Record requests that waited for another of their address's, session's or account's to be metered (limits.in_flight_per_key, in_flight_per_address).",
		}),
		outcome:  map[string]prometheus.Counter{},
		entities: entities,
		byAction: map[string]uint64{},
		suspect: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leakguard_records_served_suspect_total",
			Help: "Personal records served on requests that carried scraper signals (the dashboard's timeline).",
		}),
	}
	reg.MustRegister(m.requests, m.records, m.decisions, m.skipped, m.cut, m.upstreamEr, m.latency, m.suspect, m.inFlightWaits)
	for _, e := range entities {
		m.recordsBy = append(m.recordsBy, m.records.WithLabelValues(e))
	}
	for _, o := range []string{"allowed", "throttled", "challenged", "decoyed", "blocked", "would_throttle", "would_challenge", "would_decoy", "would_block", "state_unavailable", "in_flight"} {
		m.outcome[o] = m.requests.WithLabelValues(o)
	}
	for _, r := range []string{skipOversized, skipEncoding, skipMalformed, skipIncomplete, skipNotJSON, skipPhonesUnchecked} {
		m.skipped.WithLabelValues(r)
	}
	for _, r := range cutReasons[1:] {
		m.cut.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) verdict(v engine.Verdict) {
	switch {
	case v.Action == engine.Block && v.Shadow:
		m.outcome["would_block"].Inc()
	case v.Action == engine.Throttle && v.Shadow:
		m.outcome["would_throttle"].Inc()
	case v.Action == engine.Decoy && v.Shadow:
		m.outcome["would_decoy"].Inc()
	case v.Action == engine.Decoy:
		// counted as "decoyed" once the response is rewritten
	case v.Action == engine.Challenge && v.Shadow:
		m.outcome["would_challenge"].Inc()
	case v.Action == engine.Challenge:
		m.outcome["challenged"].Inc()
	case v.Action == engine.Block:
		m.outcome["blocked"].Inc()
	case v.Action == engine.Throttle:
		m.outcome["throttled"].Inc()
	default:
		m.outcome["allowed"].Inc()
	}
}

// Decision counts a decision; wire it into engine.Options.OnDecision.
// Served counts the records one response served, by entity, and those
// served on a request with scraper signals: the proxy for what it relays,
// the log follower for what the edge logged.
func (m *Metrics) Served(recs []records.Found, sig detect.Signals) {
	if len(recs) == 0 {
		return
	}
	if sig&suspectSignals != 0 && !sig.Exempt() {
		m.suspect.Add(float64(len(recs)))
	}
	var per [16]float64 // one atomic add per entity, not per record
	for _, r := range recs {
		if r.Entity < len(per) {
			per[r.Entity]++
		} else {
			m.recordsBy[r.Entity].Inc()
		}
	}
	for e, n := range per[:min(len(per), len(m.recordsBy))] {
		if n > 0 {
			m.recordsBy[e].Add(n)
		}
	}
}

func (m *Metrics) Decision(d engine.Decision) {
	shadow := "false"
	if d.Shadow {
		shadow = "true"
	}
	m.decisions.WithLabelValues(d.Action.String(), shadow).Inc()
	m.mu.Lock()
	m.byAction[d.Action.String()]++
	m.mu.Unlock()
}

func counterValue(c prometheus.Counter) uint64 {
	var d dto.Metric
	if c.Write(&d) != nil || d.Counter == nil {
		return 0
	}
	return uint64(d.Counter.GetValue())
}

// Snapshot returns the counters since start: requests by outcome, records
// by entity, decisions by action, and records served to suspects.
func (m *Metrics) Snapshot() (requests, records, decisions map[string]uint64, suspect uint64) {
	requests, records, decisions = map[string]uint64{}, map[string]uint64{}, map[string]uint64{}
	for o, c := range m.outcome {
		requests[o] = counterValue(c)
	}
	for i, c := range m.recordsBy {
		records[m.entities[i]] = counterValue(c)
	}
	m.mu.Lock()
	for a, n := range m.byAction {
		decisions[a] = n
	}
	m.mu.Unlock()
	return requests, records, decisions, counterValue(m.suspect)
}
