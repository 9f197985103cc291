package redis

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/testserver"
	"github.com/leakguard/leakguard/internal/testserver/fakeredis"
)

// What a hostile server answered in the probe that found go-redis trusts
// reply headers: each was a fatal out-of-memory or gigabytes of RSS.
var hostile = []struct {
	name, answer, says string
}{
	{"huge array", "*2000000000\r\n" + strings.Repeat(":1\r\n", 10000),
		"the server's reply announced an array of 2,000,000,000 elements, beyond the audit's bound of 100,000"},
	{"huge bulk", "$2000000000\r\n" + strings.Repeat("a", 100000),
		"the server's reply announced a bulk string of 2,000,000,000 bytes, beyond the audit's bound of 16,777,216"},
	{"deep", strings.Repeat("*1\r\n", 500000) + ":1\r\n",
		"the server's reply nests aggregates deeper than the audit's bound of 8"},
}

// allocated runs fn and returns the bytes it allocated (the whole process's).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestHostileServerIsAnErrorNotACrash(t *testing.T) {
	for _, h := range hostile {
		for _, after := range []string{"", "ping"} {
			t.Run(h.name+" after "+after, func(t *testing.T) {
				srv := fakeredis.New(t)
				srv.Serve(func(cmd []string) []byte {
					if cmd[0] == after || cmd[0] != "ping" {
						if a := fakeredis.Handshake(cmd); a != nil {
							return a
						}
					}
					return []byte(h.answer)
				})
				var f audit.Finding
				if n := allocated(func() { f = run(t, "redis://"+srv.Addr) }); n > 64<<20 {
					t.Errorf("the probe allocated %d MiB", n>>20)
				}
				cmd := "PING"
				if after == "ping" {
					cmd = "ACL WHOAMI"
				}
				if f.Status != audit.Error || f.Error != cmd+": "+h.says {
					t.Fatalf("finding %s, error %q; want an error %q", f.Status, f.Error, cmd+": "+h.says)
				}
				if after == "ping" && (len(f.Notes) == 0 || !strings.Contains(f.Notes[0], "answered PING without authentication")) {
					t.Errorf("notes %q, want the PING it answered said", f.Notes)
				}
				if f.Access != "" || len(f.Fix) != 0 {
					t.Errorf("access %q, fixes %q for a server that could not be checked", f.Access, f.Fix)
				}
			})
		}
	}
}

// A Redis that answers like one, but with a set too big to page through,
// is still exposed: the inventory says it is partial.
func TestReplyBeyondBoundsDuringTheInventory(t *testing.T) {
	srv := fakeredis.New(t)
	srv.Serve(func(cmd []string) []byte {
		if a := fakeredis.Handshake(cmd); a != nil {
			return a
		}
		switch cmd[0] {
		case "acl":
			return fakeredis.Bulk("default")
		case "info":
			return fakeredis.Bulk("# Server\r\nredis_version:7.0.0\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")
		case "scan":
			return []byte("*2\r\n" + string(fakeredis.Bulk("0")) + "*1\r\n" + string(fakeredis.Bulk("phones:seen")))
		case "type":
			return []byte("+set\r\n")
		case "scard":
			return []byte(":150000\r\n")
		case "sscan":
			return []byte("*2\r\n" + string(fakeredis.Bulk("0")) + "*150000\r\n" + strings.Repeat(":1\r\n", 1000))
		}
		return []byte("-ERR unknown command\r\n")
	})
	f := run(t, "redis://"+srv.Addr)
	if f.Status != audit.Exposed || f.Version != "7.0.0" || !strings.Contains(f.Access, `"default"`) {
		t.Fatalf("finding %s %q version %q error %q", f.Status, f.Access, f.Version, f.Error)
	}
	want := "the inventory is partial: the server's reply announced an array of 150,000 elements, beyond the audit's bound of 100,000"
	if len(f.Notes) != 1 || f.Notes[0] != want {
		t.Errorf("notes %q, want %q", f.Notes, want)
	}
	if c, ok := collections(f)["db0 phones:seen"]; !ok || c.Count != 150000 {
		t.Errorf("collections %v, want phones:seen of 150,000 counted", f.Collections)
	}
}

// The probe's own dialer must still speak TLS to a rediss:// target.
func TestRedissThroughTheBoundedDialer(t *testing.T) {
	cert, key, _ := testserver.Cert(t)
	port := strconv.Itoa(testserver.FreePort(t))
	testserver.Redis(t, "--tls-port", port, "--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no")
	f := run(t, "rediss://127.0.0.1:"+port)
	if f.Status != audit.Exposed || f.TLS != "yes" || f.Version == "" {
		t.Fatalf("finding %s tls=%s version=%q err=%q notes=%q", f.Status, f.TLS, f.Version, f.Error, f.Notes)
	}
}
