package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

// RegisterGauges adds the series read from the engine's state at scrape
// time (rather than counted per request, as Metrics are): actor keys held
// and evicted, keys under a sanction, the mode, and the cold share.
func RegisterGauges(reg prometheus.Registerer, m *memory.Memory, eng *engine.Engine, d *detect.Detector) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_actor_keys", Help: "Actor keys held by the meter."},
		func() float64 { return float64(m.Len()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_sanctioned_keys", Help: "Actor keys under a block, throttle or log sanction."},
		func() float64 { return float64(eng.Sanctioned()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "leakguard_actor_evictions_total", Help: "Actor keys evicted to stay under meter.max_actors."},
		func() float64 { return float64(m.Evictions()) }))
	reg.MustRegister(flagGauge(prometheus.GaugeOpts{Name: "leakguard_shadow_mode", Help: "1 in shadow mode, 0 when enforcing."},
		func() bool { return eng.Shadow() }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_records_cold_share",
		Help: "Share of recently served records that hardly anyone had been served before: a sweep spread over many actors raises it."},
		d.ColdShare))
	reg.MustRegister(flagGauge(prometheus.GaugeOpts{Name: "leakguard_items_paged",
		Help: "1 while the shop reads as one whose items have pages that browsers load before asking about them (the rules on page lineage apply); 0 as a single-page app, or not yet known (detect.single_page_app says so for good)."},
		func() bool { return d.ItemsPaged() }))
	reg.MustRegister(flagGauge(prometheus.GaugeOpts{Name: "leakguard_items_named",
		Help: "1 while the shop's people who land on a page ask first about an item a page of theirs named (id lineage): a landing session that asks first about another is judged as one that loaded no page; 0 otherwise, or not yet known."},
		func() bool { return d.ItemsNamed() }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_strangers_cold_share",
		Help: "Share of recent responses to sessions that were the first on their address (strangers, no account) that were mostly records hardly anyone had been served."},
		func() float64 { return d.Strangers().Share }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_regulars_cold_share",
		Help: "The same share for the other keys at a person's pace (regulars): what strangers are weighed against."},
		func() float64 { return d.Strangers().Regulars }))
	reg.MustRegister(flagGauge(prometheus.GaugeOpts{Name: "leakguard_strangers_colder",
		Help: "1 while strangers are shown colder records than regulars, beyond chance and by half again at least: a crowd on addresses of its own, one session each, is likely harvesting (their requests carry stranger_crowd)."},
		func() bool { return d.Strangers().Colder }))
}

// flagGauge is a gauge of 1 while on() holds, else 0.
func flagGauge(opts prometheus.GaugeOpts, on func() bool) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(opts, func() float64 {
		if on() {
			return 1
		}
		return 0
	})
}
