package redis

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/testserver"
)

func TestPattern(t *testing.T) {
	for in, want := range map[string]string{
		"user:13912345678":         "user:*",
		"user:42":                  "user:*",
		"user:42:profile":          "user:*:profile",
		"session:9f86d081884c7d65": "session:*",
		"mail:alice@example.com":   "mail:*",
		"item42:views":             "item*:views",
		"config":                   "config",
		"cache/v2/home":            "cache/v*/home",
		"":                         "(empty)",
		"order#20190601#A1000001":  "order#*#*",
	} {
		if got := Pattern(in); got != want {
			t.Errorf("Pattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func phone(i int) string { return fmt.Sprintf("139%08d", 10000000+i) }

// seed fills a Redis with the shapes a shop's cache holds: user hashes,
// JSON sessions, counters without personal data, and a set of phones.
func seed(t *testing.T, addr, pass string) {
	t.Helper()
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Password: pass})
	defer c.Close()
	p := c.Pipeline()
	for i := 0; i < 300; i++ {
		p.HSet(ctx, fmt.Sprintf("user:%d", 1000+i), "nick", "u"+fmt.Sprint(i), "mobile", phone(i), "email", fmt.Sprintf("u%d@example.com", i))
	}
	for i := 0; i < 200; i++ {
		p.Set(ctx, fmt.Sprintf("session:%016x", 0xabc000+i), fmt.Sprintf(`{"uid":%d,"phone":"%s","ttl":3600}`, i, phone(i)), 0)
	}
	for i := 0; i < 100; i++ {
		p.Set(ctx, fmt.Sprintf("item:%d:views", i), i*7, 0)
	}
	for i := 0; i < 500; i++ {
		p.SAdd(ctx, "phones:seen", phone(1000+i))
	}
	p.HSet(ctx, "config", "theme", "dark")
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func collections(f audit.Finding) map[string]audit.Collection {
	m := map[string]audit.Collection{}
	for _, c := range f.Collections {
		m[c.Name] = c
	}
	return m
}

func run(t *testing.T, url string) audit.Finding {
	t.Helper()
	tg, err := audit.ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	tg.Timeout = 20 * time.Second
	return audit.Run(context.Background(), []audit.Target{tg}, map[string]audit.Prober{"redis": &Prober{}},
		audit.NewClassifier([]string{"CN"}), 1, nil)[0]
}

// readOnly are the commands the probe may send.
var readOnly = map[string]bool{"ping": true, "acl|whoami": true, "info": true, "select": true, "scan": true,
	"type": true, "getrange": true, "hscan": true, "llen": true, "lrange": true, "scard": true, "sscan": true,
	"zcard": true, "zrange": true, "xlen": true, "xrange": true, "auth": true, "hello": true}

func TestRedisWithoutPassword(t *testing.T) {
	srv := testserver.Redis(t)
	seed(t, srv.Addr, "")
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer admin.Close()
	admin.ConfigResetStat(context.Background())

	f := run(t, "redis://"+srv.Addr)
	if f.Status != audit.Exposed || f.Severity != audit.SevCritical || f.TLS != "no" || f.Version == "" {
		t.Fatalf("finding: %s %s tls=%s version=%q err=%q", f.Status, f.Severity, f.TLS, f.Version, f.Error)
	}
	if !strings.Contains(f.Access, `"default"`) {
		t.Errorf("access = %q, want the passwordless default user named", f.Access)
	}
	cols := collections(f)
	for name, want := range map[string]int64{"db0 user:*": 300, "db0 session:*": 200, "db0 phones:seen": 500, "db0 item:*:views": 0, "db0 config": 0} {
		c, ok := cols[name]
		if !ok {
			t.Errorf("no collection %q in %v", name, cols)
			continue
		}
		if c.RecordsAtRisk != want {
			t.Errorf("%s: %d at risk (count %d, %d/%d sampled), want %d", name, c.RecordsAtRisk, c.Count, c.WithPII, c.Sampled, want)
		}
	}
	if f.RecordsAtRisk != 1000 {
		t.Errorf("records at risk %d, want 1000", f.RecordsAtRisk)
	}

	// Read-only: every command the server saw is a read.
	stats, err := admin.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stats, "\n") {
		name, _, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":")
		if !ok || strings.HasPrefix(line, "#") || name == "config|resetstat" {
			continue
		}
		if !readOnly[name] {
			t.Errorf("the probe sent %q, which is not on the read-only list", name)
		}
	}
	// Masked: no raw phone or email reaches the report.
	var out strings.Builder
	r := audit.NewReport([]audit.Finding{f}, time.Unix(0, 0))
	r.WriteText(&out)
	r.WriteJSON(&out)
	r.WriteHTML(&out)
	for i := 0; i < 300; i++ {
		if strings.Contains(out.String(), phone(i)) || strings.Contains(out.String(), fmt.Sprintf("u%d@example.com", i)) {
			t.Fatalf("report holds raw personal data of user %d", i)
		}
	}
}

func TestRedisWithPassword(t *testing.T) {
	srv := testserver.Redis(t, "--requirepass", "s3cret")
	seed(t, srv.Addr, "s3cret")
	f := run(t, "redis://"+srv.Addr)
	if f.Status != audit.Closed || len(f.Collections) != 0 || f.RecordsAtRisk != 0 {
		t.Fatalf("finding: %s cols=%d err=%q", f.Status, len(f.Collections), f.Error)
	}
	if code := audit.ExitCode([]audit.Finding{f}); code != 0 {
		t.Errorf("exit code %d", code)
	}
	// With the operator's password: inventoried, at stake but not at risk.
	f = run(t, "redis://:s3cret@"+srv.Addr)
	if f.Status != audit.Closed || !f.WithCredentials || f.PersonalRecords != 1000 || f.RecordsAtRisk != 0 {
		t.Fatalf("with credentials: %s with=%v personal=%d risk=%d notes=%v", f.Status, f.WithCredentials, f.PersonalRecords, f.RecordsAtRisk, f.Notes)
	}
	// A wrong password is reported, not mistaken for exposure.
	f = run(t, "redis://:wrong@"+srv.Addr)
	if f.Status != audit.Closed || f.WithCredentials || len(f.Notes) == 0 {
		t.Fatalf("wrong password: %+v", f)
	}
}

func TestRedisDefaultUserDisabled(t *testing.T) {
	srv := testserver.Redis(t, "--user", "default", "off", "--user", "app", "on", ">pw", "~*", "+@all")
	f := run(t, "redis://"+srv.Addr)
	if f.Status != audit.Closed {
		t.Fatalf("finding: %s access=%q err=%q", f.Status, f.Access, f.Error)
	}
}

// An unreachable target is the finding's error, said once: go-redis
// printed "redis: ... failed to dial after 5 attempts" to stderr beside it.
func TestRedisUnreachable(t *testing.T) {
	said := &heard{}
	goredis.SetLogger(said) // as go-redis's own, until the probe sets the audit's
	f := run(t, fmt.Sprintf("redis://127.0.0.1:%d", testserver.FreePort(t)))
	if f.Status != audit.Error || f.Error == "" {
		t.Fatalf("finding: %+v", f)
	}
	if n := said.n.Load(); n > 0 {
		t.Fatalf("go-redis said %d things beside the finding, the last: %s", n, said.last.Load())
	}
}

// heard counts what go-redis logs, from whichever goroutine.
type heard struct {
	n    atomic.Int64
	last atomic.Value
}

func (h *heard) Printf(_ context.Context, format string, v ...any) {
	h.n.Add(1)
	h.last.Store(fmt.Sprintf(format, v...))
}
