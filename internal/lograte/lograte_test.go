package lograte

import (
	"slices"
	"testing"
	"time"
)

// One a second for two minutes is two warnings, the second saying how
// many it stands for.
func TestOnceAMinuteWithTheNumberHeldBack(t *testing.T) {
	var l Limiter
	t0 := time.Unix(1_800_000_000, 0)
	var logged []int64
	for i := range 120 {
		if ok, held := l.Allow(t0.Add(time.Duration(i) * time.Second)); ok {
			logged = append(logged, held)
		}
	}
	if !slices.Equal(logged, []int64{0, 59}) {
		t.Errorf("logged with held back %v over two minutes of one a second, want [0 59]", logged)
	}
}
