package admin

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/meter/memory"
)

const sessionTestToken = "s3cret-token-0123456789"

type audited struct {
	action string
	attrs  map[string]string
}

// sessionHandler is the admin handler on a clock the test moves, with
// every operator line kept.
func sessionHandler(now *time.Time, log *[]audited) http.Handler {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000})
	return Handler(Options{Token: sessionTestToken, Gatherer: prometheus.NewRegistry(), Meter: m, Engine: &fakeEngine{shadow: true},
		UI: fstest.MapFS{"index.html": {Data: []byte("<html>dashboard</html>")}}, Now: func() time.Time { return *now },
		Audit: func(a string, attrs ...slog.Attr) {
			x := audited{action: a, attrs: map[string]string{}}
			for _, at := range attrs {
				x.attrs[at.Key] = at.Value.String()
			}
			*log = append(*log, x)
		}})
}

func login(h http.Handler, from, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/ui/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = from
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// Guessing the token from one address slows down exponentially, the right
// token included while the wait lasts; other addresses are not held up.
func TestLoginThrottledPerAddress(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var log []audited
	h := sessionHandler(&now, &log)
	const guesser = "203.0.113.9:4000"
	for i := 0; i < freeLoginFailures; i++ {
		if w := login(h, guesser, "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	// The next failure starts the wait: 1 s, then 2 s, 4 s...
	login(h, guesser, "wrong")
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		w := login(h, guesser, sessionTestToken)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != strings.TrimSuffix(want.String(), "s") {
			t.Fatalf("while throttled, even the token: %d Retry-After %q, want 429 after %s", w.Code, w.Header().Get("Retry-After"), want)
		}
		if w := login(h, "198.51.100.4:5000", sessionTestToken); w.Code != http.StatusSeeOther {
			t.Fatalf("another address: %d", w.Code)
		}
		now = now.Add(want)
		if w := login(h, guesser, "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("after the wait: %d", w.Code)
		}
	}
	now = now.Add(8 * time.Second)
	if w := login(h, guesser, sessionTestToken); w.Code != http.StatusSeeOther {
		t.Fatalf("after the wait, the token: %d", w.Code)
	}
	// A success clears the count.
	if w := login(h, guesser, "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("after a success: %d", w.Code)
	}
	throttled := countAudited(log, "dashboard_login_throttled")
	if throttled != 3 {
		t.Errorf("%d throttled sign-ins logged, want 3", throttled)
	}
}

// Every sign-in gets its own random session that expires; a cookie from
// before or from nowhere opens nothing.
func TestSessionCookiePerLogin(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var log []audited
	h := sessionHandler(&now, &log)
	var cookies []*http.Cookie
	for i := 0; i < 2; i++ {
		w := login(h, "198.51.100.4:5000", sessionTestToken)
		ck := w.Result().Cookies()
		if w.Code != http.StatusSeeOther || len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode ||
			ck[0].MaxAge != int(SessionTTL/time.Second) || len(ck[0].Value) != 64 {
			t.Fatalf("sign-in: %d %+v", w.Code, ck)
		}
		cookies = append(cookies, ck[0])
	}
	if cookies[0].Value == cookies[1].Value {
		t.Fatal("two sign-ins got the same cookie")
	}
	get := func(ck *http.Cookie) int {
		return do(h, "GET", "/api/mode", map[string]string{"Cookie": ck.Name + "=" + ck.Value}, "").Code
	}
	for i, ck := range cookies {
		if code := get(ck); code != 200 {
			t.Fatalf("session %d: %d", i, code)
		}
	}
	if code := get(&http.Cookie{Name: sessionCookie, Value: strings.Repeat("ab", 32)}); code != 401 {
		t.Fatalf("made-up session: %d", code)
	}
	now = now.Add(SessionTTL)
	if code := get(cookies[0]); code != 401 {
		t.Fatalf("expired session: %d", code)
	}
}

// The server keeps a bounded number of sessions: the oldest go first.
func TestSessionsBounded(t *testing.T) {
	s := newSessions()
	now := time.Unix(1_800_000_000, 0)
	first, _, _ := s.start(now)
	for i := 0; i < maxSessions+10; i++ {
		s.start(now.Add(time.Duration(i+1) * time.Millisecond))
	}
	if len(s.m) > maxSessions {
		t.Fatalf("%d sessions held, bound %d", len(s.m), maxSessions)
	}
	if _, ok := s.check(first, now); ok {
		t.Fatal("the oldest session survived the bound")
	}
}

// Operator lines say who acted: the bearer token, or the session that
// signed in (by a label, never the cookie).
func TestOperatorLinesNameWhoActed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var log []audited
	h := sessionHandler(&now, &log)
	w := login(h, "198.51.100.4:5000", sessionTestToken)
	ck := w.Result().Cookies()[0]
	session := log[len(log)-1].attrs["by"]
	if !strings.HasPrefix(session, "session:") || strings.Contains(ck.Value, strings.TrimPrefix(session, "session:")) {
		t.Fatalf("sign-in line names %q", session)
	}
	do(h, "POST", "/api/mode?set=enforce", map[string]string{"Cookie": ck.Name + "=" + ck.Value, "X-Leakguard": "1"}, "")
	do(h, "POST", "/api/unblock?key=ip:00000000000000ff", map[string]string{"Authorization": "Bearer " + sessionTestToken}, "")
	if len(log) != 3 || log[1].action != "mode" || log[1].attrs["by"] != session || log[2].action != "unblock" || log[2].attrs["by"] != "token" {
		t.Fatalf("operator lines: %+v", log)
	}
}

// Wrong bearer tokens from one address are throttled as wrong sign-ins
// are, the right token included while the wait lasts, on /api, /debug and
// /ui/ alike; another address with the right token is served, and asking
// with no token at all is not counted.
func TestBearerGuessesThrottledPerAddress(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var log []audited
	h := sessionHandler(&now, &log)
	const guesser, operator = "203.0.113.9:4000", "198.51.100.4:5000"
	get := func(from, path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = from
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for i := 0; i < 10; i++ {
		if w := get(guesser, "/api/mode", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("no token %d: %d", i, w.Code)
		}
	}
	for i := 0; i <= freeLoginFailures; i++ {
		if w := get(guesser, "/api/mode", "wrong-guess-"+strings.Repeat("x", i)); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i+1, w.Code)
		}
	}
	for _, path := range []string{"/api/mode", "/debug/pprof/", "/metrics", "/ui/"} {
		for _, token := range []string{"another-guess", sessionTestToken} {
			w := get(guesser, path, token)
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
				t.Fatalf("%s while throttled (token %q): %d Retry-After %q, want 429 after 1 s", path, token, w.Code, w.Header().Get("Retry-After"))
			}
		}
		if w := get(operator, path, sessionTestToken); w.Code != http.StatusOK {
			t.Fatalf("%s from another address with the token: %d", path, w.Code)
		}
	}
	// The sign-in shares the count.
	if w := login(h, guesser, sessionTestToken); w.Code != http.StatusTooManyRequests {
		t.Fatalf("sign-in while throttled: %d", w.Code)
	}
	// The wait doubles with each failure after it, and the token works
	// once it is over.
	now = now.Add(time.Second)
	if w := get(guesser, "/api/mode", "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("after the wait: %d", w.Code)
	}
	if w := get(guesser, "/api/mode", sessionTestToken); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("second wait: %d Retry-After %q, want 429 after 2 s", w.Code, w.Header().Get("Retry-After"))
	}
	now = now.Add(2 * time.Second)
	if w := get(guesser, "/api/mode", sessionTestToken); w.Code != http.StatusOK {
		t.Fatalf("the token after the wait: %d", w.Code)
	}
	n := countAudited(log, "admin_token_throttled")
	if n != 2 {
		t.Errorf("%d throttle starts logged, want 2", n)
	}
}

// A wrong session cookie counts as a wrong token, and the answer tells the
// browser to drop it.
func TestWrongCookieThrottled(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var log []audited
	h := sessionHandler(&now, &log)
	const from = "203.0.113.9:4000"
	var last *httptest.ResponseRecorder
	for i := 0; i <= freeLoginFailures+1; i++ {
		req := httptest.NewRequest("GET", "/api/mode", nil)
		req.RemoteAddr = from
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.Repeat("0", 63) + strconv.Itoa(i)})
		last = httptest.NewRecorder()
		h.ServeHTTP(last, req)
		if i == 0 {
			if ck := last.Result().Cookies(); last.Code != 401 || len(ck) != 1 || ck[0].Name != sessionCookie || ck[0].MaxAge >= 0 {
				t.Fatalf("wrong cookie: %d, cookies %+v, want 401 dropping it", last.Code, ck)
			}
		}
	}
	if last.Code != http.StatusTooManyRequests {
		t.Fatalf("wrong cookies: %d, want 429", last.Code)
	}
}

// Failures from more addresses than the throttle keeps do not grow it
// past its bound; IPv6 guesses count by /64.
func TestThrottleBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := newThrottle()
	for i := 0; i < maxThrottled+200; i++ {
		th.failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(), now)
	}
	if n := len(th.m); n > maxThrottled {
		t.Fatalf("throttle holds %d addresses, bound %d", n, maxThrottled)
	}
	var log []audited
	h := sessionHandler(&now, &log)
	var code int
	for i := 0; i <= freeLoginFailures+1; i++ {
		req := httptest.NewRequest("GET", "/api/mode", nil)
		req.RemoteAddr = "[2001:db8:1:2::" + strconv.Itoa(i+1) + "]:443"
		req.Header.Set("Authorization", "Bearer wrong")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		code = w.Code
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("guesses across one /64: %d, want 429", code)
	}
}

// A throttled address's sign-ins are refused without a word each: one
// line a wait. A line for every refusal let it write the decision log as
// fast as it could send (found by a probe's rerun, 2026-12-05).
func TestThrottledSignInsAreLoggedOnceAWait(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var log []audited
	h := sessionHandler(&now, &log)
	const guesser = "203.0.113.9:4000"
	for range freeLoginFailures + 1 {
		login(h, guesser, "wrong")
	}
	for range 500 {
		if w := login(h, guesser, "wrong"); w.Code != http.StatusTooManyRequests {
			t.Fatalf("while throttled: %d", w.Code)
		}
	}
	throttled := countAudited(log, "dashboard_login_throttled")
	if throttled != 1 {
		t.Errorf("%d lines for 500 refusals in one wait, want 1", throttled)
	}
}

// countAudited is how many lines of log are of action.
func countAudited(log []audited, action string) int {
	n := 0
	for _, l := range log {
		if l.action == action {
			n++
		}
	}
	return n
}
