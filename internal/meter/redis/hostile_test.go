package redis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// fakeRedis is a server on a free loopback port that answers a go-redis
// client's handshake as a Redis 2 would, and SUBSCRIBE with onSubscribe.
func fakeRedis(t *testing.T, onSubscribe string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					args, err := readCommand(r)
					if err != nil {
						return
					}
					switch strings.ToUpper(args[0]) {
					case "HELLO":
						io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
					case "PING":
						io.WriteString(c, "+PONG\r\n")
					case "SUBSCRIBE":
						io.WriteString(c, onSubscribe)
					default:
						io.WriteString(c, "+OK\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readCommand reads one command as a client sends it: an array of bulk
// strings, bounded.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || n < 1 || n > 1024 {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil || l < 0 || l > 1<<20 {
			return nil, fmt.Errorf("not a bulk string: %q", line)
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:l])
	}
	return args, nil
}

// A reply to SUBSCRIBE whose kind is an array where go-redis wants a
// string made go-redis panic on the goroutine sub.Channel() runs, which
// took the proxy down: the fleet's near keys and its sanctions are both
// subscriptions (found by a probe, 2026-12-05). Read on a goroutine of
// ours, it is skipped and the messages after it still arrive.
func TestAMalformedMessageDoesNotTakeTheProxyDown(t *testing.T) {
	malformed := "*3\r\n*1\r\n:1\r\n$1\r\na\r\n$1\r\nb\r\n"
	hello := "*3\r\n$7\r\nmessage\r\n$7\r\nlg:near\r\n$5\r\nhello\r\n"
	addr := fakeRedis(t, malformed+hello)
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := c.Subscribe(ctx, "lg:near")
	defer sub.Close()
	select {
	case msg := <-messages(ctx, sub, nil):
		if msg == nil || msg.Payload != "hello" {
			t.Fatalf("got %+v, want the message after the malformed reply", msg)
		}
	case <-ctx.Done():
		t.Fatal("no message after the malformed reply")
	}
}
