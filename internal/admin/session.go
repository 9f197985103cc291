package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// SessionTTL is how long a dashboard sign-in lasts.
const SessionTTL = 12 * time.Hour

// maxSessions bounds the sessions held: past it, a sign-in ends the oldest.
const maxSessions = 1024

// sessions are the dashboard's sign-ins: a random id per sign-in, so a
// cookie is worth nothing once it expires and one leaked cookie is not
// every operator's.
type sessions struct {
	mu sync.Mutex
	m  map[string]session // by id
}

type session struct {
	expires time.Time
	label   string // names it in the decision log; not the id
}

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

// start opens a session and returns its id and label.
func (s *sessions) start(now time.Time) (id, label string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	id = hex.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(id))
	label = "session:" + hex.EncodeToString(sum[:6])
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
	for len(s.m) >= maxSessions {
		oldest := ""
		for k, v := range s.m {
			if oldest == "" || v.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	s.m[id] = session{expires: now.Add(SessionTTL), label: label}
	return id, label, nil
}

// check returns the label of a live session.
func (s *sessions) check(id string, now time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return "", false
	}
	if !now.Before(v.expires) {
		delete(s.m, id)
		return "", false
	}
	return v.label, true
}

// throttle slows down guessing the admin token: after a few failed
// sign-ins from one address, each further failure doubles the wait before
// that address may try again (up to maxLoginWait). A success clears it.
type throttle struct {
	mu sync.Mutex
	m  map[string]*failures // by client address
}

type failures struct {
	n    int
	next time.Time // no attempt before
	last time.Time
	told bool // a refusal in this wait was said (logged) already
}

const (
	freeLoginFailures = 3
	firstLoginWait    = time.Second
	maxLoginWait      = 15 * time.Minute
	// maxThrottled bounds the addresses tracked; past it the quietest go.
	maxThrottled = 10000
)

func newThrottle() *throttle { return &throttle{m: map[string]*failures{}} }

// wait returns how long addr must wait before its next attempt (0: now).
func (t *throttle) wait(addr string, now time.Time) time.Duration {
	d, _ := t.refuse(addr, now)
	return d
}

// refuse is wait, and whether this is the wait's first refusal: the one
// to log. A line for each, as there was, let a throttled address write
// the decision log as fast as it could send.
func (t *throttle) refuse(addr string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.m[addr]; f != nil && now.Before(f.next) {
		first := !f.told
		f.told = true
		return f.next.Sub(now), first
	}
	return 0, false
}

// failed counts a failure of addr and returns the wait it starts (0: none
// yet).
func (t *throttle) failed(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[addr]
	if f == nil {
		if len(t.m) >= maxThrottled {
			t.evict(now)
		}
		f = &failures{}
		t.m[addr] = f
	}
	f.n++
	f.last = now
	if f.n > freeLoginFailures {
		d := firstLoginWait << min(f.n-freeLoginFailures-1, 20)
		f.next, f.told = now.Add(min(d, maxLoginWait)), false
		return f.next.Sub(now)
	}
	return 0
}

func (t *throttle) succeeded(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, addr)
}

// evict forgets addresses whose wait is over and that have been quiet for
// the longest wait, else the least recently failed one. t.mu is held.
func (t *throttle) evict(now time.Time) {
	var oldest string
	for a, f := range t.m {
		if now.Sub(f.last) > maxLoginWait && !now.Before(f.next) {
			delete(t.m, a)
			continue
		}
		if oldest == "" || f.last.Before(t.m[oldest].last) {
			oldest = a
		}
	}
	if len(t.m) >= maxThrottled && oldest != "" {
		delete(t.m, oldest)
	}
}

// clientAddr is what the throttle counts failures by: the client's
// address, or for IPv6 its /64, which one client commonly holds whole
// (counting each of its addresses apart would give it 2^64 fresh starts).
func clientAddr(r *http.Request) string {
	h := r.RemoteAddr
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Is6() && !a.Is4In6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return h
}

type operatorKey struct{}

// operator is who made a request: "token" (the bearer token) or a
// dashboard session's label.
func operator(r *http.Request) string {
	if s, ok := r.Context().Value(operatorKey{}).(string); ok {
		return s
	}
	return "unknown"
}

func withOperator(r *http.Request, who string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), operatorKey{}, who))
}
