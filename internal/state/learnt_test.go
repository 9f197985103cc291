package state

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/testserver"
)

// A restarted proxy (or the fleet's next one) starts from the limits
// calibration had learnt, not from the written ones: otherwise every
// restart refuses, for a calibration period, the heavy readers it had
// learnt were people (issue 13: learnt limits persisted and shared).
func TestLearntLimitsOutliveARestart(t *testing.T) {
	srv := testserver.Redis(t)
	prefix := "lglearnt:"
	dir := t.TempDir()
	for name, open := range map[string]func() State{
		"bolt": func() State { return NewBolt(BoltOptions{Dir: dir, Interval: time.Hour}) },
		"redis": func() State {
			r, err := NewRedis(RedisOptions{URL: "redis://" + srv.Addr + "/0", Prefix: prefix, Interval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			first, firstEng := learntProxy(t, open())
			firstEng.Restore(map[string]uint64{"default/user/account/1h": 1400}) // as calibration would
			first.KeepLearntOf(firstEng)
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			second, eng := learntProxy(t, open())
			defer second.Close()
			if got := eng.Learned()["default/user/account/1h"]; got != 1400 {
				t.Fatalf("after a restart the budget's limit is %d, want the 1,400 learnt (learned %v)", got, eng.Learned())
			}
		})
	}
}

func learntProxy(t *testing.T, s State) (*Lifecycle, *engine.Engine) {
	t.Helper()
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000, Persist: s.Hooks().Persist})
	eng, err := engine.New(m, engine.Options{Entities: []string{"user"}, Budgets: []engine.Budget{
		{ID: "default/user/account/1h", Entity: "user", Per: identity.Account, Window: time.Hour, Limit: 500, Action: engine.Block, Learn: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	l := &Lifecycle{State: s, log: logOrDiscard(nil), ledger: &canary.Ledger{}, fingerprint: testFingerprint}
	if err := l.Open(eng, m, []string{"user"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	return l, eng
}
