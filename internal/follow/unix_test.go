package follow

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/testserver"
)

// Any program on the proxy's host can send from a loopback address, so
// follow.senders cannot keep a local forger out. A unix datagram socket
// can: who may send is who may write its file. nginx sends to one with
// syslog:server=unix:/path.
func TestFollowOverAUnixSocket(t *testing.T) {
	st := testStack(t, nil)
	path := filepath.Join(t.TempDir(), "syslog.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine, Detector: st.Detector, UA: st.UA}
	cfg := config.Follow{Syslog: "unix:" + path, Format: "combined", Tag: "nginx"}
	if _, err := FromConfig(cfg, o); err == nil {
		t.Fatal("a regular file at the socket's path was replaced: not ours to remove")
	}
	os.Remove(path)
	// A socket left by a run that did not close it is replaced.
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close() // a closed unixgram listener leaves its file
	f, err := FromConfig(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("the socket %v (%v), want a socket of mode 0660", fi.Mode(), err)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		if _, err := c.Write([]byte(forged(i + 1))); err != nil {
			t.Fatal(err)
		}
	}
	testserver.WaitFor(t, 10*time.Second, "the lines", func() bool { return f.Count(Metered) == 3 })
	f.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the socket is left after Close: %v", err)
	}
	// Senders are addresses, which a unix socket has none of.
	cfg.Senders = []string{"127.0.0.1"}
	if err := func() error { _, err := FromConfig(cfg, o); return err }(); err == nil || !strings.Contains(err.Error(), "unix socket") {
		t.Errorf("senders with a unix socket: %v", err)
	}
}
