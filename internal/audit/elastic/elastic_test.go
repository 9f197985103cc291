package elastic

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
)

// fakeES replays documented Elasticsearch responses from testdata/<ver>:
// root.json for GET /, _cat_indices.json, <index>_mapping.json and
// <index>_search.json. With secured set it answers 401 like an 8.x
// cluster with security on, unless given user:pass.
type fakeES struct {
	ver     string
	secured bool
	mu      sync.Mutex
	methods map[string]int
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.methods[r.Method]++
	f.mu.Unlock()
	w.Header().Set("X-elastic-product", "Elasticsearch")
	if f.secured {
		if u, p, ok := r.BasicAuth(); !ok || u != "auditor" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(mustRead(filepath.Join("testdata", "es8", "unauthorized.json")))
			return
		}
	}
	var file string
	switch p := strings.Trim(r.URL.Path, "/"); {
	case p == "":
		file = "root.json"
	case p == "_cat/indices":
		file = "_cat_indices.json"
	case strings.HasSuffix(p, "/_mapping"):
		file = strings.TrimSuffix(p, "/_mapping") + "_mapping.json"
	case strings.HasSuffix(p, "/_search"):
		file = strings.TrimSuffix(p, "/_search") + "_search.json"
	}
	b, err := os.ReadFile(filepath.Join("testdata", f.ver, file))
	if file == "" || err != nil {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"type":"index_not_found_exception"},"status":404}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func mustRead(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		panic(err)
	}
	return b
}

func probe(t *testing.T, p *Prober, url string) audit.Finding {
	t.Helper()
	tg, err := audit.ParseTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	tg.Timeout = 10 * time.Second
	fs := audit.Run(context.Background(), []audit.Target{tg}, map[string]audit.Prober{"elasticsearch": p},
		audit.NewClassifier([]string{"CN"}), 1, nil)
	return fs[0]
}

func collection(f audit.Finding, name string) *audit.Collection {
	for i := range f.Collections {
		if f.Collections[i].Name == name {
			return &f.Collections[i]
		}
	}
	return nil
}

func field(c *audit.Collection, name string) *audit.Field {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return &c.Fields[i]
		}
	}
	return nil
}

// rawValues are sampled values that must never appear in any output.
var rawValues = []string{"13912345678", "15800001111", "110101199003071233", "13912340001", "wang.fang@example.com", "文一西路969号"}

func assertMasked(t *testing.T, fs []audit.Finding) {
	t.Helper()
	r := audit.NewReport(fs, time.Unix(0, 0))
	var out bytes.Buffer
	r.WriteText(&out)
	r.WriteJSON(&out)
	r.WriteHTML(&out)
	for _, raw := range rawValues {
		if strings.Contains(out.String(), raw) {
			t.Errorf("report contains the raw value %q", raw)
		}
	}
}

func TestElasticsearch7Open(t *testing.T) {
	fake := &fakeES{ver: "es7", methods: map[string]int{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	f := probe(t, &Prober{}, "es://"+strings.TrimPrefix(srv.URL, "http://"))
	if f.Status != audit.Exposed || f.Severity != audit.SevCritical || f.TLS != "no" || f.Version != "7.17.9" {
		t.Fatalf("finding = %s %s tls=%s version=%q err=%q", f.Status, f.Severity, f.TLS, f.Version, f.Error)
	}
	orders := collection(f, "orders")
	if orders == nil {
		t.Fatalf("no orders index in %+v", f.Collections)
	}
	if orders.Count != 11_000_000 || orders.Sampled != 4 || orders.WithPII != 4 || orders.RecordsAtRisk != 11_000_000 {
		t.Errorf("orders = %+v", orders)
	}
	for _, want := range []struct{ name, typ, conf string }{
		{"customer.phone", "phone", "high"},
		{"customer.id_card", "cn_id", "high"},
		{"shipping_address", "address", "medium"},
		{"customer.name", "name", "low"},
	} {
		fl := field(orders, want.name)
		if fl == nil || fl.Types[0] != want.typ || fl.Confidence != want.conf {
			t.Errorf("field %s = %+v, want %s/%s", want.name, fl, want.typ, want.conf)
		}
	}
	if fl := field(orders, "customer.phone"); fl == nil || fl.Example != "139****5678" {
		t.Errorf("phone example = %+v, want 139****5678", fl)
	}
	if p := collection(f, "products"); p == nil || p.RecordsAtRisk != 0 || len(p.Fields) != 0 {
		t.Errorf("products (no personal data) = %+v", p)
	}
	if collection(f, ".kibana_7.17.9_001") != nil {
		t.Error("system index inventoried")
	}
	if f.RecordsAtRisk != 11_000_000 || audit.ExitCode([]audit.Finding{f}) != 1 {
		t.Errorf("records at risk %d, exit %d", f.RecordsAtRisk, audit.ExitCode([]audit.Finding{f}))
	}
	if len(fake.methods) != 1 || fake.methods["GET"] == 0 {
		t.Errorf("methods used = %v, want GET only (read-only)", fake.methods)
	}
	assertMasked(t, []audit.Finding{f})
}

func TestElasticsearch8OpenOverTLS(t *testing.T) {
	srv := httptest.NewTLSServer(&fakeES{ver: "es8", methods: map[string]int{}})
	defer srv.Close()
	f := probe(t, &Prober{Client: srv.Client()}, "es://"+strings.TrimPrefix(srv.URL, "https://"))
	if f.Status != audit.Exposed || f.TLS != "yes" || f.Version != "8.11.1" {
		t.Fatalf("finding = %s tls=%s version=%q err=%q", f.Status, f.TLS, f.Version, f.Error)
	}
	m := collection(f, "members")
	if m == nil || m.RecordsAtRisk != 250_000 {
		t.Fatalf("members = %+v", m)
	}
	// Mobile numbers stored as JSON numbers are still phone numbers.
	if fl := field(m, "mobile"); fl == nil || fl.Matched != 3 || fl.Confidence != "high" {
		t.Errorf("mobile = %+v", fl)
	}
	if fl := field(m, "email"); fl == nil || fl.Example != "w***@example.com" {
		t.Errorf("email = %+v", fl)
	}
	assertMasked(t, []audit.Finding{f})
}

func TestElasticsearch8Secured(t *testing.T) {
	fake := &fakeES{ver: "es8", secured: true, methods: map[string]int{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	f := probe(t, &Prober{}, "es://"+host)
	if f.Status != audit.Closed || len(f.Collections) != 0 || f.RecordsAtRisk != 0 {
		t.Fatalf("secured cluster: %s collections=%d err=%q", f.Status, len(f.Collections), f.Error)
	}
	// Plain HTTP: passwords cross the network in clear.
	if f.TLS != "no" || f.Severity != audit.SevLow {
		t.Errorf("tls=%s severity=%s", f.TLS, f.Severity)
	}
	if code := audit.ExitCode([]audit.Finding{f}); code != 0 {
		t.Errorf("exit code %d for a closed store", code)
	}

	// With the operator's credentials: what is at stake, not at risk.
	f = probe(t, &Prober{}, "es://auditor:s3cret@"+host)
	if f.Status != audit.Closed || !f.WithCredentials || f.PersonalRecords != 250_000 || f.RecordsAtRisk != 0 {
		t.Fatalf("with credentials: %s with=%v personal=%d atrisk=%d err=%q", f.Status, f.WithCredentials, f.PersonalRecords, f.RecordsAtRisk, f.Error)
	}
	if strings.Contains(f.Target, "s3cret") {
		t.Errorf("target name shows the password: %s", f.Target)
	}
}

func TestElasticsearchUnreachableAndImpostor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>hello</html>"))
	}))
	defer srv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadHost := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()

	for name, host := range map[string]string{"impostor": strings.TrimPrefix(srv.URL, "http://"), "unreachable": deadHost} {
		f := probe(t, &Prober{}, "es://"+host)
		if f.Status != audit.Error || f.Error == "" {
			t.Errorf("%s: status %s err=%q", name, f.Status, f.Error)
		}
		if code := audit.ExitCode([]audit.Finding{f}); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
	}
}
