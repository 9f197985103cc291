package follow

import (
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/stack"
	"github.com/leakguard/leakguard/internal/testserver"
)

const followConfig = `
mode: enforce
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 20, action: block, block_for: 1h}
default_policy: false
risk:
  weights: {automation_ua: 5}
  bands: [{min: 5, action: challenge, for: 10m}]
state:
  dir: %s
`

func testStack(t *testing.T, onDecision func(engine.Decision)) *stack.Stack {
	t.Helper()
	cfg, err := config.Decode("test", []byte(fmt.Sprintf(followConfig, filepath.Join(t.TempDir(), "state"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ValidateOffline(); err != nil {
		t.Fatal(err)
	}
	h, _, _, err := stack.Hasher(cfg, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Build(cfg, h, onDecision, nil, stack.Options{NoBotDNS: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func send(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// TestFollowMeters: combined lines over syslog meter the scraper to its
// budget (a block decision, exactly at the limit); malformed datagrams and
// lines, and other tags, are counted and change nothing.
func TestFollowMeters(t *testing.T) {
	var mu sync.Mutex
	var decisions []engine.Decision
	st := testStack(t, func(d engine.Decision) { mu.Lock(); decisions = append(decisions, d); mu.Unlock() })
	f, err := Listen(Options{Addr: "127.0.0.1:0", Tag: "nginx", Parser: logs.Combined{}, Resolver: st.Resolver, Catalog: st.Catalog,
		Engine: st.Engine, Detector: st.Detector, UA: st.UA})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := net.Dial("udp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	line := func(addr string, id, status int) string {
		return fmt.Sprintf(`<190>Dec  1 08:40:05 web1 nginx: %s - - [01/Dec/2026:08:40:05 +0000] "GET /api/users/%d HTTP/1.1" %d 61 "-" %q`, addr, id, status, ua)
	}
	sent := 0
	for id := 1; id <= 19; id++ {
		send(t, c, line("203.0.113.5", id, 200))
		send(t, c, line("203.0.113.5", id, 200)) // the same record again counts once
		sent += 2
	}
	send(t, c, line("203.0.113.5", 500, 404)) // a miss serves nothing
	send(t, c, "garbage")
	send(t, c, `<190>Dec  1 08:40:05 web1 nginx: not an access log line`)
	send(t, c, `<190>Dec  1 08:40:05 web1 other: `+line("203.0.113.5", 99, 200)[len("<190>Dec  1 08:40:05 web1 nginx: "):])
	sent++
	testserver.WaitFor(t, 10*time.Second, "lines", func() bool {
		return f.Count(Metered) == uint64(sent) && f.Count(Malformed) == 2 && f.Count(OtherTag) == 1
	})
	mu.Lock()
	if len(decisions) != 0 {
		t.Fatalf("decisions at 19 records: %+v", decisions)
	}
	mu.Unlock()
	send(t, c, line("203.0.113.5", 20, 200))
	testserver.WaitFor(t, 10*time.Second, "the budget's decision", func() bool { mu.Lock(); defer mu.Unlock(); return len(decisions) == 1 })
	mu.Lock()
	d := decisions[0]
	mu.Unlock()
	if d.Action != engine.Block || d.Count != 20 || d.Rule != "user/ip/1h" {
		t.Fatalf("decision %+v, want a block at 20 users", d)
	}
}

// blockingParser holds the meter on its first line until released.
type blockingParser struct {
	once    sync.Once
	release chan struct{}
}

func (p *blockingParser) Parse(line []byte, e *logs.Entry) error {
	p.once.Do(func() { <-p.release })
	return logs.ParseCombined(line, e)
}

// TestFollowDropsWhenFull: while the meter is held, the queue fills and
// further lines are dropped and counted; the receiver never blocks.
func TestFollowDropsWhenFull(t *testing.T) {
	st := testStack(t, nil)
	p := &blockingParser{release: make(chan struct{})}
	f, err := Listen(Options{Addr: "127.0.0.1:0", Queue: 4, Parser: p, Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := net.Dial("udp", f.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := `<190>Dec  1 08:40:05 nginx: 203.0.113.5 - - [01/Dec/2026:08:40:05 +0000] "GET /api/users/1 HTTP/1.1" 200 61 "-" "x"`
	// One held in the meter, four queued, the rest dropped; sent slowly
	// enough that the kernel's buffer never drops any itself.
	for range 20 {
		send(t, c, msg)
		time.Sleep(time.Millisecond)
	}
	testserver.WaitFor(t, 10*time.Second, "drops", func() bool { return f.Count(Dropped) == 15 })
	close(p.release)
	testserver.WaitFor(t, 10*time.Second, "the queue to drain", func() bool { return f.Count(Metered) == 5 })
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
