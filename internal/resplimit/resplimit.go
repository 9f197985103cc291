// Package resplimit bounds what a Redis server may announce in its replies.
//
// go-redis trusts the length headers of RESP replies: a header of
// "*2000000000" makes it allocate an array of two billion elements, and
// "$2000000000" a two-gigabyte string, before a single element or byte of
// it arrives. A broken or hostile server (a store the audit probes, or a
// fleet Redis that is not what it seems) can so take leakguard down with
// one short line. Conn sits between go-redis and the network: it follows
// the reply stream as it passes through Read, and fails the connection the
// moment a header announces more than its Limits, before go-redis reads
// that header. go-redis then reports a broken connection and closes it.
//
// The Checker is a state machine over the stream's bytes, which arrive in
// chunks that may split anything anywhere; it keeps a few counters and a
// frame per open aggregate (at most Limits.MaxDepth), whatever the
// lengths announced. Payloads pass through unread and uncopied.
package resplimit

import (
	"context"
	"net"
	"syscall"
)

// Limits bound a reply stream. A zero field takes the default named for it.
type Limits struct {
	// MaxBulk bounds the bytes of one bulk string ($), verbatim string
	// (=) or blob error (!): go-redis allocates that many on its header.
	MaxBulk int64
	// MaxElems bounds the elements announced by the aggregates open at
	// once: an array of n holds n, a map or attribute of n pairs 2n, and
	// an aggregate nested in others adds to theirs. go-redis allocates an
	// aggregate's elements on its header, so this bounds what a server
	// can make it allocate without sending the elements.
	MaxElems int64
	// MaxDepth bounds how deep aggregates nest (a flat array is 1).
	MaxDepth int
	// MaxLine bounds a header or simple line (+, -, :, ...) with its
	// CRLF: go-redis buffers a line whole, however long.
	MaxLine int
	// Name says whose bounds these are in error messages, e.g. "the
	// audit": "... beyond the audit's bound of 100,000".
	Name string
	// Refused, if set, is told of each connection's refusal once, when
	// its Read first returns it: go-redis reports it only to the command
	// that was reading, which a caller may not check.
	Refused func(*Error)
}

// Defaults for the fields of Limits left zero. DefaultMaxBulk is Redis's
// own proto-max-bulk-len: no Redis stores a longer string.
const (
	DefaultMaxBulk  = 512 << 20
	DefaultMaxElems = 1 << 20
	DefaultMaxDepth = 16
	DefaultMaxLine  = 64 << 10
)

func (l Limits) normal() Limits {
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultMaxBulk
	}
	if l.MaxElems <= 0 {
		l.MaxElems = DefaultMaxElems
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	return l
}

// Wrap returns c with its reads checked against l. Once a read broke a
// bound, every later one fails with the same *Error.
func Wrap(c net.Conn, l Limits) net.Conn {
	w := &conn{Conn: c, ch: NewChecker(l), refused: l.Refused}
	if _, ok := c.(syscall.Conn); ok {
		return &sysConn{w}
	}
	return w
}

// Dialer wraps dial (such as go-redis's NewDialer, which also does TLS)
// so that every connection it makes is checked against l: for
// go-redis's Options.Dialer and ClusterOptions.Dialer.
func Dialer(l Limits, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c, l), nil
	}
}

type conn struct {
	net.Conn
	ch      *Checker
	refused func(*Error)
}

// Read passes on what the connection read up to the first byte that
// breaks a bound, and then the *Error.
func (c *conn) Read(p []byte) (int, error) {
	if err := c.ch.Err(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if k, cerr := c.ch.Check(p[:n]); cerr != nil {
		if c.refused != nil {
			c.refused(c.ch.err)
		}
		return k, cerr
	}
	return n, err
}

// NetConn is the connection wrapped, as crypto/tls.Conn has it: go-redis
// looks through it for a socket to peek at. Reads from it are unchecked.
func (c *conn) NetConn() net.Conn { return c.Conn }

// sysConn is a conn over a socket. go-redis checks a pooled connection
// before reuse by peeking (MSG_PEEK, which consumes nothing) at a
// syscall.Conn for a close or stray bytes; without it, a connection the
// server closed would fail its next command instead.
type sysConn struct{ *conn }

func (c *sysConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}
