package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

type fakeEngine struct{ shadow, unblocked bool }

func (f *fakeEngine) Shadow() bool              { return f.shadow }
func (f *fakeEngine) SetShadow(b bool)          { f.shadow = b }
func (f *fakeEngine) Unblock(identity.Key) bool { f.unblocked = true; return true }

func handler(eng *fakeEngine, j *Journal) http.Handler {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000})
	return Handler(Options{Token: "s3cret-token-0123456789", Gatherer: prometheus.NewRegistry(), Meter: m, Engine: eng,
		Entities: []string{"user"}, UI: fstest.MapFS{"index.html": {Data: []byte("<html>dashboard</html>")}},
		Journal: j, Audit: func(a string, _ ...slog.Attr) { j.Add(map[string]any{"msg": "operator", "action": a}) }})
}

func do(h http.Handler, method, path string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// The dashboard's session: sign-in with the token sets a cookie that is not
// the token; the cookie reads, and changes only with the CSRF header.
func TestDashboardSession(t *testing.T) {
	eng := &fakeEngine{shadow: true}
	j := NewJournal(10)
	h := handler(eng, j)
	if w := do(h, "GET", "/ui/", nil, ""); w.Code != 401 || !strings.Contains(w.Body.String(), "admin token") {
		t.Fatalf("page without a session: %d", w.Code)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if w := do(h, "POST", "/ui/login", form, url.Values{"token": {"wrong"}}.Encode()); w.Code != 401 {
		t.Fatalf("wrong token: %d", w.Code)
	}
	w := do(h, "POST", "/ui/login", form, url.Values{"token": {"s3cret-token-0123456789"}}.Encode())
	ck := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || strings.Contains(ck[0].Value, "s3cret") {
		t.Fatalf("sign-in: %d %+v", w.Code, ck)
	}
	session := map[string]string{"Cookie": ck[0].Name + "=" + ck[0].Value}
	if w := do(h, "GET", "/ui/", session, ""); w.Code != 200 || !strings.Contains(w.Body.String(), "dashboard") {
		t.Fatalf("page with the session: %d %s", w.Code, w.Body)
	}
	if w := do(h, "GET", "/api/mode", session, ""); w.Code != 200 {
		t.Fatalf("read with the session: %d", w.Code)
	}
	// CSRF: a cross-site form can carry the cookie but not the header.
	if w := do(h, "POST", "/api/mode?set=enforce", session, ""); w.Code != 401 || !eng.shadow {
		t.Fatalf("change with the cookie and no header: %d, shadow %v", w.Code, eng.shadow)
	}
	session["X-Leakguard"] = "1"
	if w := do(h, "POST", "/api/mode?set=enforce", session, ""); w.Code != 200 || eng.shadow {
		t.Fatalf("change with the header: %d", w.Code)
	}
	// The bearer token still works for scripts; a forged cookie does not.
	if w := do(h, "GET", "/api/decisions", map[string]string{"Authorization": "Bearer s3cret-token-0123456789"}, ""); w.Code != 200 {
		t.Fatalf("bearer: %d", w.Code)
	}
	if w := do(h, "GET", "/api/decisions", map[string]string{"Cookie": "lg_admin=00ff"}, ""); w.Code != 401 {
		t.Fatalf("forged cookie: %d", w.Code)
	}
	if got := j.List("", 10); len(got) < 2 || got[0]["action"] != "mode" {
		t.Fatalf("journal: %v", got)
	}
}

func TestAllowEndpoint(t *testing.T) {
	var got []string
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000})
	h := Handler(Options{Token: "t0ken-0123456789abcdef", Gatherer: prometheus.NewRegistry(), Meter: m, Engine: &fakeEngine{},
		Allow: func(p netip.Prefix) (string, error) { got = append(got, p.String()); return "kept in state.db", nil }})
	auth := map[string]string{"Authorization": "Bearer t0ken-0123456789abcdef"}
	for in, want := range map[string]int{"198.51.100.20": 200, "198.51.100.0/24": 200, "nope": 400} {
		if w := do(h, "POST", "/api/allow?prefix="+in, auth, ""); w.Code != want {
			t.Errorf("%s: %d, want %d", in, w.Code, want)
		}
	}
	if strings.Join(got, ",") == "" || !strings.Contains(strings.Join(got, ","), "198.51.100.20/32") {
		t.Errorf("allowed %v", got)
	}
	if w := do(h, "DELETE", "/api/allow?prefix=198.51.100.20", auth, ""); w.Code != 404 {
		t.Errorf("DELETE without a detector: %d", w.Code)
	}
	if w := do(h, "DELETE", "/api/allow?prefix=198.51.100.20", nil, ""); w.Code != 401 {
		t.Errorf("DELETE without the token: %d", w.Code)
	}
}

// Canary lookups carry kinds and keyed hashes only, and answer in order.
func TestCanaryLookupEndpoint(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 8, MaxActors: 1000})
	who := identity.Key{Kind: identity.IP, Hash: 0xabc}
	h := Handler(Options{Token: "t0ken-0123456789abcdef", Gatherer: prometheus.NewRegistry(), Meter: m, Engine: &fakeEngine{},
		Canaries: func(keys []records.Found) ([]canary.Issued, []bool, error) {
			out, found := make([]canary.Issued, len(keys)), make([]bool, len(keys))
			for i, k := range keys {
				if k.Hash == 0x77 {
					out[i] = canary.Issued{Kind: records.Kind(k.Entity), Hash: k.Hash, At: 5, Actor: identity.Actor{Keys: [identity.NumKinds]identity.Key{identity.IP: who}}}
					found[i] = true
				}
			}
			return out, found, nil
		}})
	auth := map[string]string{"Authorization": "Bearer t0ken-0123456789abcdef"}
	w := do(h, "POST", "/api/canaries/lookup", auth, `{"values":[{"kind":0,"hash":"12"},{"kind":0,"hash":"77"}]}`)
	var ans CanaryAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || w.Code != 200 || len(ans.Issued) != 2 || ans.Issued[0] != nil ||
		ans.Issued[1] == nil || ans.Issued[1].At != 5 || ans.Issued[1].Keys["ip"] != "0000000000000abc" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if x := ans.Issued[1].Issued(records.Phone, 0x77); x.Actor.Keys[identity.IP] != who || x.Hash != 0x77 || x.At != 5 {
		t.Errorf("back to the registry's form: %+v", x)
	}
	for body, want := range map[string]int{`{"values":[{"kind":0,"hash":"zz"}]}`: 400, `{"values":[{"kind":-1,"hash":"1"}]}`: 400, `nope`: 400,
		`{"values":[` + strings.Repeat(`{"kind":0,"hash":"1"},`, MaxCanaryQuery) + `{"kind":0,"hash":"1"}]}`: 413} {
		if w := do(h, "POST", "/api/canaries/lookup", auth, body); w.Code != want {
			t.Errorf("%.40s: %d, want %d", body, w.Code, want)
		}
	}
	if w := do(h, "POST", "/api/canaries/lookup", nil, `{"values":[]}`); w.Code != 401 {
		t.Errorf("without the token: %d", w.Code)
	}
}

// With per-person budgets the meter counts one entity more than the named
// ones (the people behind an address); /api/actors panicked on it, and the
// dashboard showed nothing.
func TestActorsWithPeopleEntity(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 2, ExactUpTo: 8, MaxActors: 1000})
	k := identity.Key{Kind: identity.IP, Hash: 42}
	counts := make([]uint64, 2)
	m.Observe(time.Now().UnixNano(), k, []records.Found{{Entity: 0, Hash: 1}, {Entity: 1, Hash: 9}}, false, counts)
	h := Handler(Options{Token: "t0ken-0123456789abcdef", Gatherer: prometheus.NewRegistry(), Meter: m, Engine: &fakeEngine{}, Entities: []string{"user"}})
	w := do(h, "GET", "/api/actors?window=1h", map[string]string{"Authorization": "Bearer t0ken-0123456789abcdef"}, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"user": 1`) {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
}
