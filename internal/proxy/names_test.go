package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// homePage names items 101-124 in its links and its widget's attribute,
// with an apostrophe in its text (a quote that opens no value).
func homePage() string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><script src="/static/app.js"></script></head><body><p>Don't miss:</p><ul>`)
	for id := 101; id <= 124; id++ {
		fmt.Fprintf(&b, `<li><a class="item" href="/items/%d">Item %d</a></li>`, id, id)
	}
	b.WriteString(`</ul><div id="reviews" data-src="/api/items/101/reviews"></div></body></html>`)
	return b.String()
}

// namesFixture is a proxy with a detector in front of a shop whose home
// page is served with coding enc, on a clock the test moves.
type namesFixture struct {
	front *httptest.Server
	d     *detect.Detector
	mu    sync.Mutex
	now   time.Time
}

func newNamesFixture(t *testing.T, enc string, home []byte) *namesFixture {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		w.Write(home)
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><body><div data-src="/api/items/%s/reviews"></div></body></html>`, r.PathValue("id"))
	})
	mux.HandleFunc("GET /static/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		io.WriteString(w, "1;\n")
	})
	mux.HandleFunc("GET /api/items/{id}/reviews", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reviews)
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)

	h := keyed.New([]byte("names-test-secret-0123456"))
	cat, err := records.NewCatalog(records.Spec{Routes: []records.RouteSpec{{Route: "GET /api/items/{item}/reviews", Entity: "reviewer", Body: "$.reviews[*].user.id"}}}, h)
	if err != nil {
		t.Fatal(err)
	}
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: len(cat.Entities()), ExactUpTo: 64, MaxActors: 10000})
	eng, err := engine.New(m, engine.Options{Entities: cat.Entities()})
	if err != nil {
		t.Fatal(err)
	}
	ua, err := detect.NewUAClassifier()
	if err != nil {
		t.Fatal(err)
	}
	f := &namesFixture{d: detect.New(detect.Options{Behaviour: detect.NewBehaviour(1000)}), now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	u, _ := url.Parse(up.URL)
	p := New(Options{Upstream: u, Resolver: identity.NewResolver(identity.Options{Session: identity.Source{Cookie: "sid"}}, h), Catalog: cat, Engine: eng,
		Metrics: NewMetrics(prometheus.NewRegistry(), cat.Entities()), MaxBodyBytes: 64 << 10, Detector: f.d, UA: ua,
		Now: func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }})
	f.front = httptest.NewServer(p)
	t.Cleanup(f.front.Close)
	return f
}

func (f *namesFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// get fetches path as a browser of session sid would, taking the codings
// in acceptEnc, and returns the body as sent.
func (f *namesFixture) get(t *testing.T, c *http.Client, path, sid, acceptEnc string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", f.front.URL+path, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
	req.Header.Set("Accept-Language", "en")
	accept := "application/json"
	if path == "/" || strings.HasPrefix(path, "/items/") {
		accept = "text/html,application/xhtml+xml"
	}
	req.Header.Set("Accept", accept)
	if acceptEnc != "" {
		req.Header.Set("Accept-Encoding", acceptEnc)
	}
	req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", path, resp.Status)
	}
	return b
}

// The items a served page names reach the detector whatever the page's
// coding, as the client is sent it, and the page reaches the client byte
// for byte: twenty people who land on the home page, ask about an item it
// named, then open an item's page and stay, teach the detector that this
// shop's landers ask about what they were shown (ItemsNamed). Without
// the page's scan no first call is judged against names, and it never
// learns so.
func TestPageNamesReachTheDetectorWhateverTheCoding(t *testing.T) {
	home := homePage()
	for _, tt := range []struct {
		name, enc, accept string
		body              []byte
	}{
		{"identity", "", "gzip", []byte(home)},
		{"gzip, passed on", "gzip", "gzip", gz(home)},
		{"gzip, decoded for a client that does not take it", "gzip", "identity", gz(home)},
		{"brotli, passed on", "br", "gzip, br", brot(home)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newNamesFixture(t, tt.enc, tt.body)
			c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			want := tt.body
			if tt.accept == "identity" {
				want = []byte(home)
			}
			for n := range 20 {
				sid := fmt.Sprintf("lander-%d", n)
				if got := f.get(t, c, "/", sid, tt.accept); !bytes.Equal(got, want) {
					t.Fatalf("the home page reached the client as %d bytes %.40q, want %d bytes", len(got), got, len(want))
				}
				item := fmt.Sprintf("%d", 101+n%24)
				f.get(t, c, "/static/app.js", sid, tt.accept)
				f.get(t, c, "/api/items/"+item+"/reviews", sid, tt.accept)
				f.advance(6 * time.Second)
				f.get(t, c, "/items/"+item, sid, tt.accept)
				f.get(t, c, "/static/app.js", sid, tt.accept)
				f.get(t, c, "/api/items/"+item+"/reviews", sid, tt.accept)
				f.advance(time.Second)
			}
			if !f.d.ItemsPaged() {
				t.Fatal("the shop does not read as one whose items have pages")
			}
			if !f.d.ItemsNamed() {
				t.Fatal("twenty landers asked first about an item the home page named, and the detector did not learn so")
			}
		})
	}
}

// A page whose coding is broken, decoded for its names alone, reaches
// the client as it came, as it did before pages were read for names: the
// client asked for that coding.
func TestABrokenPageDecodedForItsNamesGoesOnAsItCame(t *testing.T) {
	broken := gz(homePage())
	broken = append(broken[:len(broken)/2:len(broken)/2], bytes.Repeat([]byte{0xff}, 200)...)
	f := newNamesFixture(t, "gzip", broken)
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	if got := f.get(t, c, "/", "s1", "gzip"); !bytes.Equal(got, broken) {
		t.Fatalf("the page reached the client as %d bytes, want the %d it came as", len(got), len(broken))
	}
}
