package follow

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/testserver"
)

// The tests' sockets take ports of 29500-29999 only: next is the next one
// to try.
var nextPort atomic.Int32

// inRange calls bind with ports of the range until one is free.
func inRange(t *testing.T, bind func(port int) error) {
	t.Helper()
	var err error
	for range 500 {
		port := 29500 + int(nextPort.Add(1)-1)%500
		if err = bind(port); err == nil {
			return
		}
	}
	t.Fatalf("no free port in 29500-29999: %v", err)
}

// listenTest is Listen on a free port of 127.0.0.1 in the range.
func listenTest(t *testing.T, o Options) *Follower {
	t.Helper()
	var f *Follower
	inRange(t, func(port int) (err error) {
		o.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		f, err = Listen(o)
		return err
	})
	t.Cleanup(func() { f.Close() })
	return f
}

// sender is a UDP socket bound to ip (any of 127/8 on Linux) sending to f.
func sender(t *testing.T, ip string, f *Follower) (send func(msg string)) {
	t.Helper()
	var c *net.UDPConn
	inRange(t, func(port int) (err error) {
		c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
		return err
	})
	t.Cleanup(func() { c.Close() })
	to := f.Addr().(*net.UDPAddr)
	return func(msg string) {
		t.Helper()
		if _, err := c.WriteToUDP([]byte(msg), to); err != nil {
			t.Fatal(err)
		}
	}
}

func forged(id int) string {
	return fmt.Sprintf(`<190>Dec  1 08:40:05 web1 nginx: 198.51.100.7 - - [01/Dec/2026:08:40:05 +0000] "GET /api/users/%d HTTP/1.1" 200 61 "-" "curl/8"`, id)
}

// TestFollowSenders: lines are read from follow.senders alone (loopback
// when left out); a datagram from anyone else is dropped unread, counted,
// and warned of at most once a minute.
func TestFollowSenders(t *testing.T) {
	for _, c := range []struct {
		name    string
		senders []string // follow.senders
		from    []string // a datagram from each
		metered uint64
		foreign uint64
	}{
		{name: "loopback by default", from: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, metered: 3},
		{name: "a listed address", senders: []string{"127.0.0.2"}, from: []string{"127.0.0.2", "127.0.0.2"}, metered: 2},
		{name: "a listed prefix", senders: []string{"127.0.0.1/32", "127.0.1.0/24"}, from: []string{"127.0.1.9", "127.0.0.1"}, metered: 2},
		{name: "a foreign sender", senders: []string{"127.0.0.1/32"}, from: []string{"127.0.0.2", "127.0.0.1", "127.0.0.3", "127.0.0.2"}, metered: 1, foreign: 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := testStack(t, nil)
			var f *Follower
			inRange(t, func(port int) (err error) {
				f, err = FromConfig(config.Follow{Syslog: fmt.Sprintf("127.0.0.1:%d", port), Format: "combined", Tag: "nginx", Senders: c.senders},
					Options{Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine, Detector: st.Detector, UA: st.UA})
				return err
			})
			defer f.Close()
			sends := map[string]func(string){}
			for i, ip := range c.from {
				if sends[ip] == nil {
					sends[ip] = sender(t, ip, f)
				}
				sends[ip](forged(i + 1))
			}
			testserver.WaitFor(t, 10*time.Second, "the datagrams", func() bool { return f.Count(Metered)+f.Count(ForeignSender) == uint64(len(c.from)) })
			if m, x := f.Count(Metered), f.Count(ForeignSender); m != c.metered || x != c.foreign {
				t.Fatalf("metered %d, foreign_sender %d; want %d, %d", m, x, c.metered, c.foreign)
			}
			if n := f.Count(Malformed) + f.Count(Dropped); n != 0 {
				t.Fatalf("%d malformed or dropped", n)
			}
		})
	}
}

// TestFollowForeignSenderWarns: a flood of forged lines is one warning a
// minute, naming the sender and how many datagrams it sent since.
func TestFollowForeignSenderWarns(t *testing.T) {
	st := testStack(t, nil)
	var logged testserver.Buffer
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 1, 8, 40, 0, 0, time.UTC).UnixNano())
	f := listenTest(t, Options{Senders: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Parser: logs.Combined{},
		Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine,
		Log: slog.New(slog.NewTextHandler(&logged, nil)), Now: func() time.Time { return time.Unix(0, now.Load()) }})
	send := sender(t, "127.0.0.2", f)
	for i := range 5 {
		send(forged(i))
	}
	testserver.WaitFor(t, 10*time.Second, "five foreign datagrams", func() bool { return f.Count(ForeignSender) == 5 })
	if n := strings.Count(logged.String(), "not in follow.senders"); n != 1 {
		t.Fatalf("%d warnings for five datagrams in a second, want 1:\n%s", n, logged.String())
	}
	now.Add(int64(61 * time.Second))
	send(forged(6))
	send(forged(7))
	testserver.WaitFor(t, 10*time.Second, "seven foreign datagrams", func() bool { return f.Count(ForeignSender) == 7 })
	out := logged.String()
	if n := strings.Count(out, "not in follow.senders"); n != 2 || !strings.Contains(out, "sender=127.0.0.2") || !strings.Contains(out, "datagrams=5") {
		t.Fatalf("want a second warning a minute later, counting the five since the first:\n%s", out)
	}
	if f.Count(Metered) != 0 {
		t.Fatalf("%d forged lines metered", f.Count(Metered))
	}
}

// TestFollowSendersRequired: beyond loopback, the senders must be named
// (Validate says so first; Listen refuses too, binding nothing), and a
// sender that is not an address or prefix is an error.
func TestFollowSendersRequired(t *testing.T) {
	st := testStack(t, nil)
	o := Options{Parser: logs.Combined{}, Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine}
	for _, addr := range []string{"0.0.0.0:29999", ":29999", "[::]:29999"} {
		o.Addr = addr
		if f, err := Listen(o); err == nil || !strings.Contains(err.Error(), "senders are required") {
			if f != nil {
				f.Close()
			}
			t.Errorf("%s without senders: %v", addr, err)
		}
	}
	if _, err := FromConfig(config.Follow{Syslog: "127.0.0.1:29999", Format: "combined", Senders: []string{"10.0.0.1", "web1"}}, o); err == nil ||
		!strings.Contains(err.Error(), "follow.senders[1]") {
		t.Errorf("a bad sender: %v", err)
	}
}
