package state

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/testserver"
	"github.com/leakguard/leakguard/internal/testserver/fakeredis"
)

// A fleet Redis that answers a header announcing gigabytes (a broken one,
// or one that is not what it seems) fails the command; it used to be a
// fatal out-of-memory of the proxy (the array) or gigabytes of RSS (the
// string).
func TestFleetClientRefusesHugeReplies(t *testing.T) {
	for _, h := range []struct{ name, answer, says string }{
		{"array", "*2000000000\r\n" + strings.Repeat(":1\r\n", 10000),
			"the server's reply announced an array of 2,000,000,000 elements, beyond the fleet client's bound of 1,000,000"},
		{"bulk", "$2000000000\r\n" + strings.Repeat("a", 100000),
			"the server's reply announced a bulk string of 2,000,000,000 bytes, beyond the fleet client's bound of 67,108,864"},
		{"map", "%2000000000\r\n", "a map of 2,000,000,000 pairs"},
	} {
		for _, mode := range []string{"single", "cluster", "handshake"} {
			t.Run(h.name+" "+mode, func(t *testing.T) {
				srv := fakeredis.New(t)
				srv.Serve(func(cmd []string) []byte {
					if mode == "handshake" && cmd[0] == "hello" {
						return []byte(h.answer) // RESP3's HELLO answers a map
					}
					if a := fakeredis.Handshake(cmd); a != nil {
						return a
					}
					if len(cmd) > 1 && cmd[0] == "cluster" && strings.EqualFold(cmd[1], "slots") {
						return fakeredis.ClusterSlots(srv.Addr)
					}
					return []byte(h.answer)
				})
				url := "redis://" + srv.Addr + "/0"
				if mode == "cluster" {
					url = "redis://" + srv.Addr + "?addr=" + srv.Addr
				}
				r, err := NewRedis(RedisOptions{URL: url})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				// The fleet's reads of a string, a set and a hash, each on
				// a new connection: a refused one is closed.
				for _, read := range []struct {
					what string
					fn   func() error
				}{
					{"allowlist", func() error { _, err := r.Allows(ctx); return err }},
					{"learnt", func() error { _, err := r.Learnt(ctx); return err }},
					{"popularity", func() error { _, err := r.Snapshot(ctx, Popularity); return err }},
				} {
					if err := read.fn(); err == nil || !strings.Contains(err.Error(), h.says) {
						t.Fatalf("%s: %v; want it to say %q", read.what, err, h.says)
					}
				}
				runtime.ReadMemStats(&after)
				if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
					t.Errorf("three refused replies allocated %d MiB", n>>20)
				}
			})
		}
	}
}

// The bounds leave the fleet's own values room, over TLS (the dialer
// wraps go-redis's, which does TLS) and RESP3, and on a cluster.
func TestFleetClientReadsItsOwnValues(t *testing.T) {
	cert, key, _ := testserver.Cert(t)
	port := strconv.Itoa(testserver.FreePort(t))
	srv := testserver.Redis(t, "--tls-port", port, "--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no")
	nodes := testserver.RedisCluster(t, 3)
	for name, url := range map[string]string{
		"plain":   "redis://" + srv.Addr + "/0",
		"tls":     "rediss://127.0.0.1:" + port + "/0?skip_verify=true",
		"cluster": "redis://" + nodes[0].Addr + "?addr=" + nodes[1].Addr + "&addr=" + nodes[2].Addr,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := NewRedis(RedisOptions{URL: url, Prefix: "lgbounds:"})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Larger than a popularity snapshot (5 MiB before DEFLATE).
			blob := bytes.Repeat([]byte{0xa5, 0x5a, 0, '\r', '\n', '*'}, 2<<20)
			if err := r.KeepSnapshot(ctx, Popularity, blob); err != nil {
				t.Fatal(err)
			}
			got, err := r.Snapshot(ctx, Popularity)
			if err != nil || !bytes.Equal(got, blob) {
				t.Fatalf("popularity read back: %d bytes, %v", len(got), err)
			}
			learnt := map[string]uint64{}
			for i := range 2000 {
				learnt["budget-"+strconv.Itoa(i)] = uint64(i)
			}
			if err := r.KeepLearnt(ctx, learnt); err != nil {
				t.Fatal(err)
			}
			if back, err := r.Learnt(ctx); err != nil || len(back) != len(learnt) || back["budget-1999"] != 1999 {
				t.Fatalf("learnt read back: %d, %v", len(back), err)
			}
		})
	}
}
