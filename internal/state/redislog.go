package state

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/lograte"
)

// redisLog takes go-redis's own complaints into the proxy's log. Left to
// itself go-redis prints them to stderr in its own format ("redis:
// 2026/12/05 18:48:39 pool.go:770: ..."), a line or two a second for as
// long as Redis is down, between the proxy's structured lines, which
// already say the fleet is unreachable. Here they are warnings at most
// once a minute, with the number held back.
type redisLog struct {
	log   *slog.Logger
	limit lograte.Limiter
}

var _ interface {
	Printf(ctx context.Context, format string, v ...any)
} = (*redisLog)(nil)

func (l *redisLog) Printf(_ context.Context, format string, v ...any) {
	ok, held := l.limit.Allow(time.Now())
	if !ok {
		return
	}
	said := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	l.log.Warn("state: the redis client says (at most once a minute)", "said", said, "held_back", held)
}

// logRedisClientTo sends go-redis's complaints to log. go-redis has one
// logger per process, so the last fleet opened in a process has them;
// a process runs one proxy.
func logRedisClientTo(log *slog.Logger) {
	goredis.SetLogger(&redisLog{log: log})
}
