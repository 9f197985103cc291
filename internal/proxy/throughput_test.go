package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/leakguard/leakguard/internal/shop"
)

// Throughput over real loopback sockets: a plain ReverseProxy and leakguard
// (route + JSONPath records + PII scan) in front of the same shop upstream,
// driven by b.RunParallel clients. Client, proxy and upstream share the
// machine's cores, as in bench/proxy.sh (which also measures nginx).
func benchThroughput(b *testing.B, h func(http.RoundTripper) http.Handler) {
	up := httptest.NewServer(shop.New(1, 50000, 1000).Handler())
	defer up.Close()
	rt := NewTransport(0, 512)
	front := httptest.NewServer(h(rewriteTo(up.URL, rt)))
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	var n atomic.Int64
	b.SetParallelism(32) // 64 requests in flight on 2 cores, like wrk -c64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			path := "/api/users/" + strconv.Itoa(int(i%1000)+1)
			if i%2 == 0 {
				path = "/api/items/" + strconv.Itoa(int(i%1000)+1) + "/reviews"
			}
			resp, err := client.Get(front.URL + path)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// rewriteTo sends every request to the real upstream, whatever host the
// handler under test addressed.
func rewriteTo(base string, rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.URL.Scheme, r.URL.Host = "http", base[len("http://"):]
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func BenchmarkThroughputPlainReverseProxy(b *testing.B) { benchThroughput(b, plain) }
func BenchmarkThroughputGuardedPIIScan(b *testing.B) {
	benchThroughput(b, func(rt http.RoundTripper) http.Handler { return guarded(b, rt, true) })
}
