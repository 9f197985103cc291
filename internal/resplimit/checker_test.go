package resplimit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// audit are bounds like the audit's, small enough to test at their edge.
var audit = Limits{MaxBulk: 16 << 20, MaxElems: 100_000, MaxDepth: 8, Name: "the audit"}

// hello3 is what redis-server 7.0 answers HELLO 3 with.
const hello3 = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n" +
	"$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"

var valid = []struct {
	name, in string
	l        Limits
}{
	{name: "simple string", in: "+OK\r\n"},
	{name: "error", in: "-ERR unknown command 'HELLO'\r\n"},
	{name: "integer", in: ":42\r\n:-5\r\n"},
	{name: "bulk", in: "$5\r\nhello\r\n"},
	{name: "empty bulk", in: "$0\r\n\r\n"},
	{name: "nulls", in: "$-1\r\n*-1\r\n%-1\r\n~-1\r\n>-1\r\n=-1\r\n!-1\r\n_\r\n"},
	{name: "empty aggregates", in: "*0\r\n%0\r\n~0\r\n>0\r\n"},
	{name: "array", in: "*3\r\n$3\r\nfoo\r\n:1\r\n$-1\r\n"},
	{name: "nested", in: "*2\r\n*1\r\n+a\r\n*0\r\n"},
	{name: "scan page", in: "*2\r\n$1\r\n0\r\n*3\r\n$5\r\nuser1\r\n$5\r\nuser2\r\n$5\r\nuser3\r\n"},
	{name: "double", in: ",3.14\r\n,inf\r\n"},
	{name: "boolean", in: "#t\r\n#f\r\n"},
	{name: "big number", in: "(3492890328409238509324850943850943825024385\r\n"},
	{name: "verbatim", in: "=15\r\ntxt:Some string\r\n"},
	{name: "blob error", in: "!21\r\nSYNTAX invalid syntax\r\n"},
	{name: "map", in: "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"},
	{name: "set", in: "~3\r\n+a\r\n+b\r\n+c\r\n"},
	{name: "push", in: ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"},
	{name: "attribute", in: "|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n"},
	{name: "empty attribute", in: "|0\r\n:1\r\n"},
	{name: "HELLO 3", in: hello3},
	{name: "headers in a payload", in: "$13\r\n*2000000000\r\n\r\n$11\r\n$2000000000\r\n"},
	{name: "CR inside a line", in: "+a\rb\r\n"},
	{name: "pipelined", in: "+OK\r\n:1\r\n$3\r\nabc\r\n*1\r\n:2\r\n-ERR x\r\n"},
	{name: "bulk at its bound", in: "$5\r\nhello\r\n", l: Limits{MaxBulk: 5}},
	{name: "array at its bound", in: "*2\r\n:1\r\n:2\r\n", l: Limits{MaxElems: 2}},
	{name: "map at its bound", in: "%1\r\n:1\r\n:2\r\n", l: Limits{MaxElems: 2}},
	{name: "replies one after another", in: "*2\r\n:1\r\n:2\r\n*2\r\n:1\r\n:2\r\n", l: Limits{MaxElems: 2}},
	{name: "depth at its bound", in: "*1\r\n*1\r\n:1\r\n*1\r\n*0\r\n", l: Limits{MaxDepth: 2}},
	{name: "nested within open bound", in: "*2\r\n:1\r\n*1\r\n:1\r\n", l: Limits{MaxElems: 3}},
	// The attribute is not one of the array's two elements: after them the
	// next reply is at the top again, where depth 1 is allowed.
	{name: "attribute inside an array", in: "*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n:2\r\n*1\r\n:3\r\n", l: Limits{MaxDepth: 2}},
	{name: "line at its bound", in: "+" + strings.Repeat("a", 61) + "\r\n", l: Limits{MaxLine: 64}},
	{name: "leading zeros", in: "$005\r\nhello\r\n"},
}

var invalid = []struct {
	name, in string
	l        Limits
	n        int // bytes passed
	kind     Kind
	msg      string // in the message
}{
	{name: "huge array", in: "*2000000000\r\n" + strings.Repeat(":1\r\n", 100), l: audit, n: 11, kind: Elems,
		msg: "the server's reply announced an array of 2,000,000,000 elements, beyond the audit's bound of 100,000"},
	{name: "huge bulk", in: "$2000000000\r\n" + strings.Repeat("a", 100), l: audit, n: 11, kind: Bulk,
		msg: "announced a bulk string of 2,000,000,000 bytes, beyond the audit's bound of 16,777,216"},
	{name: "after a valid reply", in: "+PONG\r\n*2000000000\r\n", l: audit, n: 18, kind: Elems},
	{name: "huge map", in: "%60000\r\n", l: audit, n: 6, kind: Elems, msg: "a map of 60,000 pairs (120,000 elements)"},
	{name: "huge set", in: "~100001\r\n", l: audit, n: 7, kind: Elems, msg: "a set of 100,001 elements"},
	{name: "huge push", in: ">100001\r\n", l: audit, n: 7, kind: Elems},
	{name: "huge attribute", in: "|50001\r\n", l: audit, n: 6, kind: Elems},
	{name: "huge verbatim", in: "=16777217\r\n", l: audit, n: 9, kind: Bulk, msg: "a verbatim string of 16,777,217 bytes"},
	{name: "huge blob error", in: "!16777217\r\n", l: audit, n: 9, kind: Bulk},
	{name: "huge nested in an array", in: "*1\r\n*2000000000\r\n", l: audit, n: 15, kind: Elems},
	{name: "bulk over its bound", in: "$6\r\nhello!\r\n", l: Limits{MaxBulk: 5}, n: 2, kind: Bulk},
	{name: "map over its bound", in: "%2\r\n", l: Limits{MaxElems: 3}, n: 2, kind: Elems},
	{name: "open elements", in: "*60\r\n*60\r\n", l: Limits{MaxElems: 100, Name: "the fleet client"}, n: 8, kind: Elems,
		msg: "announced an array of 60 elements inside aggregates of 60 more, beyond the fleet client's bound of 100 elements open at once"},
	// The attribute is not one of the array's elements: the array is open
	// when the second one comes.
	{name: "open elements past an attribute", in: "*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n*3\r\n:1\r\n:2\r\n:3\r\n", l: Limits{MaxElems: 4}, n: 22, kind: Elems,
		msg: "an array of 3 elements inside aggregates of 2 more"},
	{name: "one pair", in: "%1\r\n", l: Limits{MaxElems: 1}, n: 2, kind: Elems, msg: "a map of 1 pair (2 elements)"},
	{name: "too deep", in: strings.Repeat("*1\r\n", 9) + ":1\r\n", l: audit, n: 34, kind: Depth,
		msg: "nests aggregates deeper than the audit's bound of 8"},
	{name: "deep probe", in: strings.Repeat("*1\r\n", 5000) + ":1\r\n", l: audit, n: 34, kind: Depth},
	{name: "deep attribute", in: "*1\r\n|1\r\n*1\r\n", l: Limits{MaxDepth: 2}, n: 10, kind: Depth},
	{name: "long line", in: "+" + strings.Repeat("a", 70000), n: 65536, kind: Line, msg: "a line longer than the client's bound of 65,536 bytes"},
	{name: "long line ending", in: "+" + strings.Repeat("a", 62) + "\r\n", l: Limits{MaxLine: 64}, n: 64, kind: Line},
	{name: "long length", in: "*99999999999999999999\r\n", n: 19, kind: Elems, msg: "more than 18 digits"},
	{name: "unknown type", in: "+OK\r\nhello\r\n", n: 5, kind: Malformed, msg: `unknown type byte 'h'`},
	{name: "binary type", in: "\x00", n: 0, kind: Malformed, msg: "byte 0x00"},
	{name: "letters in a length", in: "*abc\r\n", n: 1, kind: Malformed},
	{name: "no length", in: "*\r\n", n: 1, kind: Malformed},
	{name: "negative length", in: "*-2\r\n", n: 3, kind: Malformed},
	{name: "minus zero", in: "$-0\r\n", n: 3, kind: Malformed},
	{name: "null attribute", in: "|-1\r\n:1\r\n", n: 3, kind: Malformed},
	{name: "plus sign", in: "*+1\r\n", n: 1, kind: Malformed},
	{name: "streamed string", in: "$?\r\n;4\r\nHell\r\n;0\r\n", n: 1, kind: Malformed, msg: "streamed"},
	{name: "streamed array", in: "*?\r\n:1\r\n.\r\n", n: 1, kind: Malformed},
	{name: "CR without LF", in: "*1\r\r\n", n: 3, kind: Malformed},
	{name: "LF without CR", in: "+OK\n", n: 3, kind: Malformed},
	{name: "LF without CR in a header", in: "*1\n", n: 2, kind: Malformed},
	{name: "bulk without CRLF", in: "$5\r\nhelloXX", n: 9, kind: Malformed},
	{name: "bulk with CR only", in: "$5\r\nhello\rX", n: 10, kind: Malformed},
}

// feed checks in as the chunks cut at the cuts, and returns the bytes
// passed and the first error.
func feed(l Limits, in string, cuts ...int) (int, error) {
	c := NewChecker(l)
	passed, from := 0, 0
	for _, to := range append(cuts, len(in)) {
		n, err := c.Check([]byte(in[from:to]))
		passed += n
		if err != nil {
			if n2, err2 := c.Check([]byte(in[to:])); n2 != 0 || err2 != err {
				return -1, errors.New("a failed checker went on")
			}
			return passed, err
		}
		from = to
	}
	return passed, nil
}

// splits calls fn with every way to cut in in two and in three (up to 300
// bytes; longer ones in two), and one byte at a time.
func splits(in string, fn func(cuts []int)) {
	fn(nil)
	for i := 0; i <= len(in); i++ {
		fn([]int{i})
		if len(in) <= 300 {
			for j := i; j <= len(in); j++ {
				fn([]int{i, j})
			}
		}
	}
	ones := make([]int, 0, len(in))
	for i := 1; i < len(in); i++ {
		ones = append(ones, i)
	}
	fn(ones)
}

func TestValidRepliesPass(t *testing.T) {
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			splits(tc.in, func(cuts []int) {
				if n, err := feed(tc.l, tc.in, cuts...); n != len(tc.in) || err != nil {
					t.Fatalf("cut at %v: passed %d of %d bytes, err %v", cuts, n, len(tc.in), err)
				}
			})
			// Whole, and byte for byte through a Conn read in small pieces.
			for _, chunk := range []int{1, 2, 3, 7, 4096} {
				got, err := io.ReadAll(Wrap(&chunked{data: []byte(tc.in), chunk: chunk}, tc.l))
				if err != nil || !bytes.Equal(got, []byte(tc.in)) {
					t.Fatalf("through a conn in %d-byte reads: %q, %v", chunk, got, err)
				}
			}
		})
	}
}

func TestInvalidRepliesFail(t *testing.T) {
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			splits(tc.in, func(cuts []int) {
				n, err := feed(tc.l, tc.in, cuts...)
				var e *Error
				if n != tc.n || !errors.As(err, &e) || e.Kind != tc.kind {
					t.Fatalf("cut at %v: passed %d bytes (want %d), err %v (want kind %d)", cuts, n, tc.n, err, tc.kind)
				}
				if !strings.Contains(e.Error(), tc.msg) {
					t.Fatalf("message %q, want it to say %q", e, tc.msg)
				}
			})
			for _, chunk := range []int{1, 3, 4096} {
				c := Wrap(&chunked{data: []byte(tc.in), chunk: chunk}, tc.l)
				got, err := io.ReadAll(c)
				var e *Error
				if !bytes.Equal(got, []byte(tc.in[:tc.n])) || !errors.As(err, &e) {
					t.Fatalf("through a conn in %d-byte reads: %q, %v", chunk, got, err)
				}
				if n, again := c.Read(make([]byte, 10)); n != 0 || again != err {
					t.Fatalf("read after the failure: %d, %v", n, again)
				}
			}
		})
	}
}

// A hostile header alone must be refused without waiting for more: the
// server may send nothing after it.
func TestHeaderRefusedAtItsCR(t *testing.T) {
	c := NewChecker(audit)
	if n, err := c.Check([]byte("*2000000000")); n != 11 || err != nil {
		t.Fatalf("before the CR: %d, %v", n, err)
	}
	if n, err := c.Check([]byte("\r")); n != 0 || err == nil {
		t.Fatalf("at the CR: %d, %v", n, err)
	}
}

// Megabytes of payload pass through in the reads they came in, unread.
func TestPayloadPassesThrough(t *testing.T) {
	const size = 8 << 20
	data := append([]byte("$8388608\r\n"), bytes.Repeat([]byte("*9\r\n"), size/4)...)
	data = append(data, "\r\n+OK\r\n"...)
	c := Wrap(&chunked{data: data, chunk: 64 << 10}, audit)
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d of %d bytes, %v", len(got), len(data), err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		ch := NewChecker(audit)
		for i := 0; i < len(data); i += 64 << 10 {
			ch.Check(data[i:min(i+64<<10, len(data))])
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations to check %d bytes, want the checker's own", allocs, len(data))
	}
}

// Refused hears of a connection's refusal once, however often it is read.
func TestRefusedToldOnce(t *testing.T) {
	var told []*Error
	l := audit
	l.Refused = func(e *Error) { told = append(told, e) }
	c := Wrap(&chunked{data: []byte("+OK\r\n$2000000000\r\n"), chunk: 3}, l)
	got, err := io.ReadAll(c)
	c.Read(make([]byte, 10))
	if string(got) != "+OK\r\n$2000000000" || len(told) != 1 || told[0] != err {
		t.Fatalf("read %q, %v; told %v", got, err, told)
	}
	if _, err := io.ReadAll(Wrap(&chunked{data: []byte("+OK\r\n"), chunk: 3}, l)); err != nil || len(told) != 1 {
		t.Fatalf("a valid stream: %v, told %v", err, told)
	}
}

func TestWrapKeepsTheSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := Wrap(raw, Limits{})
	if _, ok := c.(syscall.Conn); !ok {
		t.Error("a wrapped TCP conn hides its socket from go-redis's health check")
	}
	if u, ok := c.(interface{ NetConn() net.Conn }); !ok || u.NetConn() != raw {
		t.Error("a wrapped conn does not say what it wraps")
	}
	if _, ok := Wrap(&chunked{}, Limits{}).(syscall.Conn); ok {
		t.Error("a wrapped conn without a socket claims one")
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 100_000: "100,000",
		2_000_000_000: "2,000,000,000", -5: "-5"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

// chunked is a net.Conn whose reads return at most chunk bytes of data.
type chunked struct {
	net.Conn
	data  []byte
	chunk int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// BenchmarkCheck: what the checker adds to a read, on the fleet's replies:
// a flush pipeline's integers, a SCAN page, a popularity snapshot.
func BenchmarkCheck(b *testing.B) {
	var scan strings.Builder
	scan.WriteString("*2\r\n$4\r\n1234\r\n*1000\r\n")
	for i := range 1000 {
		k := fmt.Sprintf("lg:{ip:%016x}:sanction:enumeration", i)
		fmt.Fprintf(&scan, "$%d\r\n%s\r\n", len(k), k)
	}
	for _, s := range []struct{ name, stream string }{
		{"pipeline", strings.Repeat(":1\r\n", 2048)},
		{"scan", scan.String()},
		{"snapshot", "$5242880\r\n" + strings.Repeat("x", 5<<20) + "\r\n"},
	} {
		b.Run(s.name, func(b *testing.B) {
			data := []byte(s.stream)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c := NewChecker(Limits{})
				for i := 0; i < len(data); i += 32 << 10 { // go-redis's reads
					if _, err := c.Check(data[i:min(i+32<<10, len(data))]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
