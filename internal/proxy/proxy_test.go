package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fixture struct {
	proxy   *Proxy
	metrics *Metrics
	front   *httptest.Server
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

const reviews = `{"reviews":[{"user":{"id":1,"phone":"13812345678"}},{"user":{"id":2,"phone":"13912345678"}}]}`

// upstream serves canned bodies by path.
func upstream(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	serve := func(path, ct, enc string, body []byte) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			if enc != "" {
				w.Header().Set("Content-Encoding", enc)
			}
			w.Write(body)
		})
	}
	serve("/r/plain", "application/json", "", []byte(reviews))
	serve("/r/gzip", "application/json", "gzip", gz(reviews))
	serve("/r/brotli", "application/json", "br", brot(reviews))
	serve("/r/malformed", "application/json", "", []byte(`{"reviews":[{"user":{"id":1, "phone":"13812345678"`))
	serve("/r/garbage", "application/json", "", []byte(`{"reviews":[{"user":`))
	serve("/r/html", "text/html", "", []byte(`<p>call 13812345678</p>`))
	serve("/r/big", "application/json", "", []byte(`{"reviews":[`+strings.Repeat(`{"user":{"id":9}},`, 10000)+`{}]}`))
	serve("/r/bomb", "application/json", "gzip", gz(`{"x":"`+strings.Repeat("0", 4<<20)+`"}`))
	serve("/r/image", "image/png", "", []byte("\x89PNG 13812345678"))
	mux.HandleFunc("/r/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func newFixture(t *testing.T, up string) *fixture {
	p, met := scanAllProxy(t, up, 64<<10, nil)
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	return &fixture{proxy: p, metrics: met, front: front}
}

func TestBodyInspection(t *testing.T) {
	up := upstream(t)
	tests := []struct {
		path          string
		users, phones float64
		skip          string
	}{
		{"/r/plain", 2, 2, ""},
		{"/r/gzip", 2, 2, ""},
		{"/r/brotli", 2, 2, ""},
		{"/r/malformed", 1, 1, ""},          // broken, but user 1 and a phone were served: they count
		{"/r/garbage", 0, 0, skipMalformed}, // nothing to find: counted as malformed
		{"/r/html", 0, 1, ""},               // not JSON: PII scan only
		{"/r/big", 1, 0, ""},                // streamed past max_body_bytes: user 9, once
		{"/r/bomb", 0, 0, ""},               // 4 MiB of zeros decoded and read: nothing personal
		{"/r/image", 0, 0, ""},
		{"/r/missing", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f := newFixture(t, up.URL)
			req, _ := http.NewRequest("GET", f.front.URL+tt.path, nil)
			req.Header.Set("Accept-Encoding", "gzip, br")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Bodies pass through untouched, whatever inspection made of them.
			direct, _ := http.DefaultTransport.RoundTrip(mustReq(up.URL + tt.path))
			want, _ := io.ReadAll(direct.Body)
			direct.Body.Close()
			if !bytes.Equal(got, want) {
				t.Fatalf("body changed in transit (%d vs %d bytes)", len(got), len(want))
			}
			if u := testutil.ToFloat64(f.metrics.recordsBy[0]); u != tt.users {
				t.Errorf("user records %v, want %v", u, tt.users)
			}
			if p := testutil.ToFloat64(f.metrics.recordsBy[1]); p != tt.phones {
				t.Errorf("phone records %v, want %v", p, tt.phones)
			}
			if tt.skip != "" {
				if n := testutil.ToFloat64(f.metrics.skipped.WithLabelValues(tt.skip)); n != 1 {
					t.Errorf("skip %s counted %v times, want 1", tt.skip, n)
				}
			}
		})
	}
}

func mustReq(u string) *http.Request {
	r, _ := http.NewRequest("GET", u, nil)
	r.Header.Set("Accept-Encoding", "gzip, br")
	return r
}

// A broken upstream response (connection cut mid-body) must not crash the
// proxy; what the client was sent of it counts.
func TestUpstreamCutsBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(`{"reviews":[{"user":{"id":1}}`))
		w.(http.Flusher).Flush()
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
	}))
	defer up.Close()
	f := newFixture(t, up.URL)
	resp, err := http.Get(f.front.URL + "/r/x")
	if err == nil {
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if n := testutil.ToFloat64(f.metrics.recordsBy[0]); n != 1 {
		t.Fatalf("counted %v records from a cut body, want the 1 sent", n)
	}
	if n := testutil.ToFloat64(f.metrics.skipped.WithLabelValues(skipIncomplete)); n != 1 {
		t.Fatalf("incomplete bodies counted %v, want 1", n)
	}
}

func brot(s string) []byte {
	var b bytes.Buffer
	w := brotli.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}
