package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leakguard/leakguard/internal/testserver/fakeredis"
)

// A reply to SUBSCRIBE whose kind is an array where go-redis wants a
// string made go-redis panic on the goroutine sub.Channel() runs, which
// took the proxy down: the fleet's near keys and its sanctions are both
// subscriptions (found by a probe, 2026-12-05). Read on a goroutine of
// ours, it is skipped and the messages after it still arrive.
func TestAMalformedMessageDoesNotTakeTheProxyDown(t *testing.T) {
	malformed := "*3\r\n*1\r\n:1\r\n$1\r\na\r\n$1\r\nb\r\n"
	hello := "*3\r\n$7\r\nmessage\r\n$7\r\nlg:near\r\n$5\r\nhello\r\n"
	srv := fakeredis.New(t)
	srv.Serve(func(cmd []string) []byte {
		switch cmd[0] {
		case "hello":
			return []byte("-ERR unknown command 'HELLO'\r\n")
		case "subscribe":
			return []byte(malformed + hello)
		}
		return []byte("+OK\r\n")
	})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, DisableIdentity: true, MaxRetries: -1})
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
