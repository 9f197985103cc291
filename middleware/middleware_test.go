package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/middleware"
)

// app is a plain net/http application: user profiles (a record each,
// identified by the path, with a phone and an email in the body) and
// review pages (twenty reviewers' phones, in the body only).
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "name": fmt.Sprintf("user %d", id), "phone": phone(id), "email": fmt.Sprintf("user%d@example.com", id)})
	})
	mux.HandleFunc("GET /api/items/{id}/reviews", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		var reviews []map[string]any
		for i := range 20 {
			reviews = append(reviews, map[string]any{"stars": 5, "reviewer_phone": phone(100000 + id*20 + i)})
		}
		// No Content-Type: sniffed as net/http's server would.
		json.NewEncoder(w).Encode(map[string]any{"item": id, "reviews": reviews})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>shop</html>") })
	return mux
}

func phone(n int) string { return fmt.Sprintf("+86 138%08d", n) }

const testConfig = `
mode: enforce
identity:
  trusted_proxies: [127.0.0.1/32]
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 50, action: block, block_for: 1h}
  - {entity: phone, per: ip, window: 1h, limit: 200, action: block, block_for: 1h}
# One signal, so each scraper meets its budget rather than a risk band:
# the bands have their own tests in the proxy.
risk:
  weights: {automation_ua: 5}
  bands:
    - {min: 5, action: challenge, for: 10m}
log:
  decisions: stderr
state:
  dir: %s
`

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// TestMiddleware: a plain net/http server wrapped by the package. A
// scraper of profiles is refused with 403 at its path budget, one of
// review pages at its phone budget (records found in bodies only),
// shoppers pass throughout, and the records served are counted.
func TestMiddleware(t *testing.T) {
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	var decisions []middleware.Decision
	mw, err := middleware.New([]byte(fmt.Sprintf(testConfig, filepath.Join(t.TempDir(), "state"))), middleware.Options{
		Getenv:     func(string) string { return "" },
		Registerer: reg,
		Decisions:  io.Discard,
		OnDecision: func(d middleware.Decision) { mu.Lock(); decisions = append(decisions, d); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	srv := httptest.NewServer(mw.Handler(app()))
	defer srv.Close()

	get := func(path, addr string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("User-Agent", chromeUA)
		req.Header.Set("Accept-Language", "en")
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header, string(b)
	}
	phones := 0 // phone records served, one per response and phone
	shoppers := func(round int) {
		t.Helper()
		for s := 1; s <= 5; s++ {
			for i := range 8 {
				path := fmt.Sprintf("/api/users/%d", 1+(s*37+i*11+round)%500)
				if i%4 == 3 {
					path = fmt.Sprintf("/api/items/%d/reviews", s+round)
				}
				code, _, body := get(path, fmt.Sprintf("198.51.100.%d", s))
				if code != 200 || !strings.Contains(body, "+86 138") {
					t.Fatalf("shopper %d refused %s: %d %q", s, path, code, body)
				}
				phones += strings.Count(body, "+86 138")
			}
		}
	}
	shoppers(0)

	// Profiles: exactly the budget served, then 403 with Retry-After.
	served := 0
	for id := 1; id <= 80; id++ {
		code, h, body := get(fmt.Sprintf("/api/users/%d", id), "203.0.113.5")
		switch {
		case code == 200:
			served++
			phones++
			if served != id {
				t.Fatalf("profile scraper served %d after a refusal", id)
			}
		case code == 403:
			if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 3000 || !strings.Contains(body, `"forbidden"`) {
				t.Fatalf("refusal: Retry-After %q, body %q", h.Get("Retry-After"), body)
			}
		default:
			t.Fatalf("profile scraper, user %d: %d %q", id, code, body)
		}
	}
	if served != 50 {
		t.Fatalf("profile scraper served %d users, want exactly its budget of 50", served)
	}

	// Review pages: 20 phones each, found in the body only; the phone
	// budget (200) is met on the tenth page.
	pages := 0
	for item := 1; item <= 20; item++ {
		code, _, body := get(fmt.Sprintf("/api/items/%d/reviews", item), "203.0.113.77")
		if code == 200 {
			pages++
			phones += strings.Count(body, "+86 138")
			continue
		}
		if code != 403 {
			t.Fatalf("review scraper, item %d: %d %q", item, code, body)
		}
	}
	if pages != 10 {
		t.Fatalf("review scraper served %d pages, want 10 (200 phones from bodies)", pages)
	}
	shoppers(1)

	if got := counted(t, reg, "leakguard_records_served_total", "phone"); int(got) != phones {
		t.Fatalf("phone records counted %v, served %d", got, phones)
	}
	mu.Lock()
	defer mu.Unlock()
	rules := map[string]bool{}
	for _, d := range decisions {
		rules[d.Rule+" "+d.Action] = true
		if d.Shadow {
			t.Errorf("decision in shadow mode: %+v", d)
		}
	}
	if len(rules) != 2 {
		t.Fatalf("decisions %v, want one block on the user budget and one on the phone budget", rules)
	}
}

// counted is one series of a counter vector, by its entity label.
func counted(t *testing.T, g prometheus.Gatherer, name, entity string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == name && l.GetName() == "entity" && l.GetValue() == entity {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("%s{entity=%q} not found", name, entity)
	return 0
}

// TestMiddlewareHandlerFailures: a handler that panics before answering
// is a 502, not a crashed process; one that streams a large body is
// served whole.
func TestMiddlewareHandlerFailures(t *testing.T) {
	mw, err := middleware.New([]byte(fmt.Sprintf(testConfig, filepath.Join(t.TempDir(), "state"))), middleware.Options{
		Getenv: func(string) string { return "" }, Decisions: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		for range 1000 {
			io.WriteString(w, strings.Repeat("x", 4096))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Host+" "+r.RequestURI) })
	srv := httptest.NewServer(mw.Handler(mux))
	defer srv.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("panicking handler: %d, want 502", resp.StatusCode)
	}
	resp, err = c.Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 1000*4096 {
		t.Fatalf("streamed body: %d bytes, want %d", n, 1000*4096)
	}
	resp, err = c.Get(srv.URL + "/host?q=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := strings.TrimPrefix(srv.URL, "http://") + " /host?q=1"; string(b) != want {
		t.Fatalf("the handler saw %q, want %q", b, want)
	}
}
