// Package lograte lets a warning that outsiders can set off (a forged
// syslog datagram, an edge's bad auth request, a bad key in a shared
// Redis) through at most once a minute, and counts the ones held back:
// logged each time, any client could grow the log as fast as it sends.
package lograte

import (
	"sync/atomic"
	"time"
)

// Every is how often a Limiter lets a warning through at most.
const Every = time.Minute

// Limiter is one warning's rate. Its zero value lets the first through.
// It is safe for concurrent use.
type Limiter struct {
	last, held atomic.Int64
}

// Allow reports whether to log at now, and how many calls were held back
// since the last one it let through.
func (l *Limiter) Allow(now time.Time) (ok bool, held int64) {
	last := l.last.Load()
	if last != 0 && now.UnixNano()-last < int64(Every) || !l.last.CompareAndSwap(last, now.UnixNano()) {
		l.held.Add(1)
		return false, 0
	}
	return true, l.held.Swap(0)
}
