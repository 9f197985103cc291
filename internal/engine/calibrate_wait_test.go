package engine

import (
	"testing"
	"time"
)

// A proxy just started learns every minute until its first calibrate_every
// has passed, then at that period: the demo's shoppers met the written
// per-session limit in under three minutes, before the first calibration
// at five.
func TestCalibratesEveryMinuteAtFirst(t *testing.T) {
	for _, tt := range []struct {
		ran, every, want time.Duration
	}{
		{0, 5 * time.Minute, time.Minute},
		{4 * time.Minute, 5 * time.Minute, time.Minute},
		{5 * time.Minute, 5 * time.Minute, 5 * time.Minute},
		{time.Hour, 5 * time.Minute, 5 * time.Minute},
		{0, 10 * time.Second, 10 * time.Second}, // never slower than asked
		{0, time.Hour, time.Minute},
	} {
		if got := CalibrationWait(tt.ran, tt.every); got != tt.want {
			t.Errorf("CalibrationWait(%s, %s) = %s, want %s", tt.ran, tt.every, got, tt.want)
		}
	}
}
