package cli

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/state"
	"github.com/leakguard/leakguard/internal/testserver"
)

// A restarted proxy, on its state.db or on the fleet's Redis, starts its
// behaviour tracker from the popularity it had learnt, and says so; one
// told to start cold (the demo) does not.
func TestProxyKeepsPopularityAcrossARestart(t *testing.T) {
	up := upstreamShop(t)
	srv := testserver.Redis(t)
	for name, state := range map[string]string{
		"bolt":  fmt.Sprintf("  dir: %s", t.TempDir()),
		"redis": fmt.Sprintf("  redis: redis://%s/0", srv.Addr), // a redis-server of this test's own
	} {
		t.Run(name, func(t *testing.T) {
			cfg := writeStateConfig(t, up.URL, state)
			first, base, stop := serveConfig(t, cfg, &testserver.Buffer{})
			if n := crawl(t, base, "203.0.113.9", 0, 40); n != 40 {
				t.Fatalf("served %d of 40", n)
			}
			learnt := first.behaviour.Popularity()
			stop()                  // listeners, then the popularity is kept, then the state closes
			if learnt.Served < 40 { // the profile, and the PII found in it
				t.Fatalf("the tracker saw %d records of 40 profiles", learnt.Served)
			}

			stderr := &testserver.Buffer{}
			second, _, stop := serveConfig(t, cfg, stderr)
			if got := second.behaviour.Popularity(); got != learnt {
				t.Fatalf("restarted with %+v, want %+v\n%s", got, learnt, stderr)
			}
			if !regexp.MustCompile(fmt.Sprintf(`msg="state: popularity restored" age=\S+ bytes=\d+ records=%d `, learnt.Served)).MatchString(stderr.String()) {
				t.Fatalf("no restore line:\n%s", stderr)
			}
			stop()

			cold := &ProxyCommand{Stdout: stderr, Stderr: stderr, Getenv: testGetenv, ColdPopularity: true}
			if err := cold.ParseFlags([]string{"--config", cfg}); err != nil {
				t.Fatal(err)
			}
			if err := cold.Open(); err != nil {
				t.Fatal(err)
			}
			defer cold.Close()
			if got := cold.behaviour.Popularity(); got.Served != 0 {
				t.Fatalf("told to start cold, started with %+v", got)
			}
		})
	}
}

// The demo's scoreboard is of a fresh start, even run again on its state
// directory: what the first run's tracker learnt is not restored.
func TestDemoStartsColdOnAStateDirReused(t *testing.T) {
	dir := t.TempDir()
	run := func(atReady func(c *DemoCommand)) *DemoCommand {
		c := &DemoCommand{Stdout: &testserver.Buffer{}, Stderr: &testserver.Buffer{}, Ready: make(chan struct{})}
		if err := c.ParseFlags([]string{"--duration", "1s", "--every", "1h", "--shoppers", "20", "--nats", "2", "--think", "200ms", "--state", dir}); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-c.Ready
			atReady(c)
		}()
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-done
		return c
	}
	first := run(func(*DemoCommand) {})
	served := first.Proxy.behaviour.Popularity().Served
	if served < 100 {
		t.Fatalf("the first run's tracker saw %d records", served)
	}
	var atStart uint64
	run(func(c *DemoCommand) { atStart = c.Proxy.behaviour.Popularity().Served })
	t.Logf("the first run served %d records; the second's tracker started with %d", served, atStart)
	if atStart >= served/2 {
		t.Fatalf("the second run started from the first's popularity: %d records, the first served %d", atStart, served)
	}
}

// A running proxy keeps its popularity every snapshotEvery, not only at
// Close: a crash loses at most that much of it.
func TestProxyKeepsPopularityAsItRuns(t *testing.T) {
	cfg := writeStateConfig(t, upstreamShop(t).URL, fmt.Sprintf("  dir: %s", t.TempDir()))
	c, base, _ := serveConfig(t, cfg, &testserver.Buffer{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.keepSnapshots(ctx, 20*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	if n := crawl(t, base, "203.0.113.10", 0, 10); n != 10 {
		t.Fatalf("served %d of 10", n)
	}
	testserver.WaitFor(t, 5*time.Second, "the popularity kept while running", func() bool {
		p, err := c.state.Snapshot(ctx, state.Popularity)
		return err == nil && p != nil
	})
}

// With state kept in the process only (persist: false, no Redis) nothing
// would restore a snapshot: none is taken, not even at Close.
func TestProxyWithoutPersistenceKeepsNoPopularity(t *testing.T) {
	cfg := writeStateConfig(t, upstreamShop(t).URL, "  persist: false")
	c, base, stop := serveConfig(t, cfg, &testserver.Buffer{})
	if n := crawl(t, base, "203.0.113.11", 0, 10); n != 10 {
		t.Fatalf("served %d of 10", n)
	}
	c.keepSnapshotsNow()
	stop()
	if p, err := c.state.Snapshot(context.Background(), state.Popularity); err != nil || p != nil {
		t.Fatalf("a process-only state kept a %d-byte snapshot (err %v)", len(p), err)
	}
}
