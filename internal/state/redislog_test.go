package state

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// go-redis printed its own lines to stderr, a line or two a second for
// as long as the fleet's Redis was down ("redis: 2026/12/05 18:48:39
// pool.go:770: redis: connection pool: failed to dial after 5 attempts"),
// between the proxy's structured ones. They go through the proxy's log
// now, once a minute at most.
func TestRedisClientsComplaintsGoThroughTheLog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var buf bytes.Buffer
	r, err := NewRedis(RedisOptions{URL: "redis://" + addr, Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 3 {
		if err := r.Client().Ping(ctx).Err(); err == nil {
			t.Fatal("a ping answered where nothing listens")
		}
	}
	out := buf.String()
	if n := strings.Count(out, "the redis client says"); n != 1 {
		t.Fatalf("%d of go-redis's complaints in the log, want 1 (the others held back):\n%s", n, out)
	}
	if !strings.Contains(out, "failed to dial") || strings.Contains(out, `said="redis: `) {
		t.Fatalf("the log does not say what go-redis said, or says it with its prefix:\n%s", out)
	}
}
