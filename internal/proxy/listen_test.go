package proxy

import (
	"net"
	"testing"
	"time"
)

// Past the cap a connection waits unaccepted until one is closed.
func TestListenCapped(t *testing.T) {
	if _, err := ListenCapped("127.0.0.1:0", 0); err == nil {
		t.Fatal("max_conns 0 accepted")
	}
	ln, err := ListenCapped("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted past the cap")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not accepted once the first closed")
	}
}
