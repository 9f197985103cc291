// Package web is the operators' dashboard: static files embedded in the
// binary (plain HTML, CSS and JavaScript; charts are a few lines of SVG, so
// no charting library, no CDN, no build step), served by the admin
// listener behind its token, and the sampler behind its timeline.
package web

import (
	"context"
	"embed"
	"io/fs"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/admin"
)

//go:embed static
var files embed.FS

// Files are the dashboard's files.
func Files() fs.FS {
	sub, _ := fs.Sub(files, "static")
	return sub
}

// Timeline samples two running totals (records served, and those served to
// suspected scrapers) every Every, keeping the last N intervals.
type Timeline struct {
	Every time.Duration
	N     int
	Read  func() (records, suspect uint64)

	mu      sync.Mutex
	samples []admin.Sample
	lastR   uint64
	lastS   uint64
	started bool
}

// Run samples until ctx is done.
func (t *Timeline) Run(ctx context.Context) {
	tick := time.NewTicker(t.Every)
	defer tick.Stop()
	t.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			t.sample(now)
		}
	}
}

func (t *Timeline) sample(now time.Time) {
	r, s := t.Read()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		t.samples = append(t.samples, admin.Sample{Time: now.UTC(), Records: r - t.lastR, Suspect: s - t.lastS})
		if len(t.samples) > t.N {
			t.samples = append(t.samples[:0], t.samples[len(t.samples)-t.N:]...)
		}
	}
	t.lastR, t.lastS, t.started = r, s, true
}

// Samples returns the samples, oldest first.
func (t *Timeline) Samples() []admin.Sample {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]admin.Sample(nil), t.samples...)
}
