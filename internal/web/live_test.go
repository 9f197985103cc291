package web

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/proxy"
)

func TestLiveStats(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 100})
	eng, err := engine.New(m, engine.Options{Entities: []string{"user"}, Shadow: true})
	if err != nil {
		t.Fatal(err)
	}
	live := NewLive(proxy.NewMetrics(prometheus.NewRegistry(), []string{"user"}), eng, m, func() float64 { return 0.25 })
	s := live.Stats()
	if s.Mode != config.ModeShadow || s.ColdShare != 0.25 || s.TimelineEvery != "5s" || s.ActorKeys != 0 {
		t.Errorf("shadow: %+v", s)
	}
	eng.SetShadow(false)
	if s := live.Stats(); s.Mode != config.ModeEnforce {
		t.Errorf("enforcing: %s", s.Mode)
	}
}
