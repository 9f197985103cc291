// Command plainproxy is the baseline for leakguard's throughput benchmark: a
// plain httputil.ReverseProxy tuned the same way (pooled buffers, 512 idle
// upstream connections), doing no inspection.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

type pool struct{ p sync.Pool }

func (b *pool) Get() []byte    { return *(b.p.Get().(*[]byte)) }
func (b *pool) Put(buf []byte) { b.p.Put(&buf) }

func main() {
	listen := flag.String("listen", "127.0.0.1:18081", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:19000", "upstream URL")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	bp := &pool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		BufferPool: bp,
		Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second},
	}
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
