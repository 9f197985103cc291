// Package fakeredis is a Redis server for tests that answers what the test
// says: a broken or hostile one, which no real redis-server can be made to
// be. It reads the commands go-redis sends (arrays of bulk strings) and
// writes each answer whole.
package fakeredis

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server listens on a free 127.0.0.1 port until the test ends.
type Server struct {
	Addr string

	t     testing.TB
	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// New listens; Serve answers.
func New(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), t: t, l: l, conns: map[net.Conn]bool{}}
	t.Cleanup(s.close)
	return s
}

// Serve answers every command with answer(cmd), cmd[0] lower-cased; a nil
// answer closes the connection.
func (s *Server) Serve(answer func(cmd []string) []byte) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				rd := bufio.NewReader(c)
				for {
					cmd, err := readCommand(rd)
					if err != nil {
						return
					}
					a := answer(cmd)
					if a == nil {
						return
					}
					c.SetWriteDeadline(time.Now().Add(10 * time.Second))
					if _, err := c.Write(a); err != nil {
						return // the client hung up on a hostile answer
					}
				}
			}()
		}
	}()
}

func (s *Server) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Handshake answers what go-redis sends as it connects as a Redis 5
// would: HELLO is unknown (so go-redis speaks RESP2), AUTH, SELECT, CLIENT
// and READONLY are OK, PING is PONG. For anything else it says nil.
func Handshake(cmd []string) []byte {
	switch cmd[0] {
	case "hello":
		return []byte("-ERR unknown command 'HELLO'\r\n")
	case "auth", "select", "client", "readonly":
		return []byte("+OK\r\n")
	case "ping":
		return []byte("+PONG\r\n")
	}
	return nil
}

// Bulk is s as a bulk string.
func Bulk(s string) []byte { return []byte("$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n") }

// ClusterSlots is the answer to CLUSTER SLOTS of a cluster of one node,
// addr, serving every slot.
func ClusterSlots(addr string) []byte {
	host, port, _ := net.SplitHostPort(addr)
	return []byte("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n" + string(Bulk(host)) + ":" + port + "\r\n")
}

var errProtocol = errors.New("fakeredis: not a command")

// readCommand reads an array of bulk strings (at most 64 arguments of 1
// MiB: the clients under test send less).
func readCommand(rd *bufio.Reader) ([]string, error) {
	n, err := header(rd, '*', 64)
	if err != nil || n < 1 {
		return nil, errProtocol
	}
	cmd := make([]string, n)
	for i := range cmd {
		l, err := header(rd, '$', 1<<20)
		if err != nil {
			return nil, err
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, err
		}
		cmd[i] = string(b[:l])
	}
	cmd[0] = strings.ToLower(cmd[0])
	return cmd, nil
}

func header(rd *bufio.Reader, typ byte, max int) (int, error) {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 4 || line[0] != typ {
		return 0, errProtocol
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil || n < 0 || n > max {
		return 0, errProtocol
	}
	return n, nil
}
