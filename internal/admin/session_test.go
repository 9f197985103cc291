package admin

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	throttled := 0
	for _, l := range log {
		if l.action == "dashboard_login_throttled" {
			throttled++
		}
	}
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
