package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/stack"
)

// BenchmarkFreshAddressFlood sends 10 million requests, each from a fresh
// client address (a new /24 every 256), through what the proxy holds per
// request: the stack a routes-only config builds (identity, records,
// detector and its behaviour tracker, the default policy's engine and
// meter at the default meter.max_actors, persisted, drained every 2 s of
// event time as the store's syncer does). The network, the HTTP server
// and the bbolt file are left out. It reports the peak heap and peak RSS
// of the process, and the time a request while the meter fills and once
// it evicts. LEAKGUARD_FLOOD_ADDRESSES changes the count;
// LEAKGUARD_FLOOD_METER sets meter keys (e.g. "max_bytes: 268435456");
// LEAKGUARD_FLOOD_HEAPPROFILE=FILE writes a heap profile at the end.
//
//	go test -run '^$' -bench FreshAddressFlood -benchtime 1x -timeout 30m ./internal/engine
func BenchmarkFreshAddressFlood(b *testing.B) {
	n := 10_000_000
	if s := os.Getenv("LEAKGUARD_FLOOD_ADDRESSES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := config.Parse("flood.yaml", []byte(`upstream: http://127.0.0.1:1
identity:
  session: {cookie: sid}
records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /api/items/{id}/reviews
    entity: user
    body: $.reviews[*].user.id
meter: {`+os.Getenv("LEAKGUARD_FLOOD_METER")+`}
`))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		runtime.GC()
		st, err := stack.Build(cfg, keyed.New([]byte("flood-secret-0123456789abcdef")), nil, func(string) string { return "" }, stack.Options{Persist: true})
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/api/users/1", nil)
		r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
		r.Header.Set("Accept", "application/json")
		r.Header.Set("Accept-Language", "en-US,en;q=0.9")
		ua := st.UA.Classify(r.UserAgent())
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		var recs []records.Found
		var peakHeap uint64
		// Time by segments of 100,000 requests: those that ended before the
		// meter's first eviction, and those that began after it.
		// CPU time is the process's (garbage collection included), which
		// a loaded machine inflates less than the wall clock.
		var filling, evicting, cpuFilling, cpuEvicting time.Duration
		var nFilling, nEvicting int
		seg, segStart, cpuStart, evictedBefore := 100_000, time.Now(), cpuTime(), false
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("phase", "filling")))
		sample := func() {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
		}
		for j := 0; j < n; j++ {
			now = now.Add(100 * time.Microsecond) // 10,000 requests a second
			a4 := [4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)}
			if j >= 1<<24 {
				a4[0] = 11 + byte(j>>24)
			}
			addr := netip.AddrFrom4(a4)
			r.RemoteAddr = addr.String() + ":40000"
			r.URL.Path = "/api/users/" + strconv.Itoa(j%100_000)
			act := st.Resolver.Identify(r)
			m := st.Catalog.Match(r.Method, r.URL.Path)
			route := ""
			if m.Matched() {
				route = st.Catalog.RouteName(m.Route())
			}
			sig := st.Detector.Assess(&act, detect.Traits{Kind: detect.KindOf(route != "", r.Method, r.URL.Path, "application/json"), UA: ua, Addr: addr,
				At: now.UnixNano(), IDLow: m.IDLow()})
			v := st.Engine.Admit(now, &act, route, sig, false)
			if !v.Enforced() {
				recs = st.Catalog.PathRecords(&m, recs[:0])
				st.Engine.Observe(now, &act, engine.Exchange{Route: route, Records: recs, Signals: v.Signals})
				st.Detector.Served(&act, recs)
			}
			if j%20_000 == 19_999 {
				st.Meter.Drain()
			}
			if j%seg == seg-1 {
				d, cpu, evicted := time.Since(segStart), cpuTime()-cpuStart, st.Meter.Evictions() > 0
				switch {
				case !evicted:
					filling, cpuFilling, nFilling = filling+d, cpuFilling+cpu, nFilling+seg
				case evictedBefore:
					evicting, cpuEvicting, nEvicting = evicting+d, cpuEvicting+cpu, nEvicting+seg
				}
				if evicted && !evictedBefore { // for go test -cpuprofile and pprof -tagfocus phase=evicting
					pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("phase", "evicting")))
				}
				evictedBefore = evicted
				if j%(5*seg) == 5*seg-1 {
					sample()
				}
				segStart, cpuStart = time.Now(), cpuTime()
			}
		}
		sample()
		if f := os.Getenv("LEAKGUARD_FLOOD_HEAPPROFILE"); f != "" { // what holds the heap at the end
			runtime.GC()
			if w, err := os.Create(f); err == nil {
				_ = pprof.WriteHeapProfile(w)
				w.Close()
			}
		}
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(vmKB("VmHWM"))/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(st.Meter.Len()), "keys-held")
		b.ReportMetric(float64(st.Meter.Evictions()), "evictions")
		b.ReportMetric(float64(filling.Nanoseconds())/float64(max(nFilling, 1)), "ns/req-filling")
		b.ReportMetric(float64(evicting.Nanoseconds())/float64(max(nEvicting, 1)), "ns/req-evicting")
		b.ReportMetric(float64(cpuFilling.Nanoseconds())/float64(max(nFilling, 1)), "cpu-ns/req-filling")
		b.ReportMetric(float64(cpuEvicting.Nanoseconds())/float64(max(nEvicting, 1)), "cpu-ns/req-evicting")
		runtime.KeepAlive(st)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmKB reads a line of /proc/self/status (0 where there is none).
func vmKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field+":")); ok {
			kb, _ := strconv.ParseInt(string(bytes.Fields(rest)[0]), 10, 64)
			return kb
		}
	}
	return 0
}
