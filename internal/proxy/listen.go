package proxy

import (
	"fmt"
	"net"

	"golang.org/x/net/netutil"
)

// ListenCapped listens on addr and accepts at most maxConns connections at
// once. The rest wait in the kernel's backlog instead of holding a file
// descriptor each: 22k idle connections once exhausted the descriptors,
// and the admin listener (health checks, metrics) could accept nothing.
func ListenCapped(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if maxConns < 1 {
		ln.Close()
		return nil, fmt.Errorf("max_conns: want at least 1, got %d", maxConns)
	}
	return netutil.LimitListener(ln, maxConns), nil
}
