package demo

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/leakguard/leakguard/internal/config"
)

// The demo shop's size: enough profiles that a scraper's take shows
// against its budget.
const (
	ShopUsers = 50000
	ShopItems = 20000
)

// Config is a config as a new user writes it: the identity sources, the
// record routes and the partner's address, and no budget, so the default
// policy decides (leakguard policy prints it). It enforces, listens on
// loopback ports of the system's choosing, and keeps its state and
// decisions in stateDir.
func Config(upstream, stateDir string) *config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Upstream = upstream
	cfg.Mode = config.ModeEnforce
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Identity.TrustedProxies = []string{"127.0.0.1/32"}
	cfg.Identity.Session = config.KeySource{Cookie: "sid"}
	cfg.Identity.Account = config.KeySource{Header: "X-Account"}
	cfg.Records = []config.Record{
		{Route: "GET /api/users/{id}", Entity: "profile"},
		{Route: "GET /api/items/{id}/reviews", Entity: "reviewer", Body: "$.reviews[*].user.id"},
	}
	cfg.Detect.Allow = []string{PartnerAddress + "/32"}
	cfg.Log.Decisions = filepath.Join(stateDir, "decisions.jsonl")
	cfg.State.Dir = stateDir
	return cfg
}

// RunPrinting runs the traffic until ctx ends, writing the scoreboard to w
// every every and once more, as the result, at the end (an interrupted
// demo's scoreboard so far is its result too).
func (t *Traffic) RunPrinting(ctx context.Context, w io.Writer, every time.Duration) {
	done := make(chan struct{})
	go func() { t.Run(ctx); close(done) }()
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			fmt.Fprintf(w, "\nfinal after %s:\n", time.Since(start).Round(time.Second))
			PrintScoreboard(w, t.Scores, time.Since(start))
			return
		case <-tick.C:
			PrintScoreboard(w, t.Scores, time.Since(start))
			fmt.Fprintln(w)
		}
	}
}
