package resplimit

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzChecker: for any stream, cut anywhere, the checker does not panic,
// passes the same prefix of it whatever the cuts, and a Conn hands on
// exactly that prefix, byte for byte, then fails.
func FuzzChecker(f *testing.F) {
	// What a hostile server answered in the probe (fakeredis2.py).
	f.Add([]byte("*2000000000\r\n"+strings.Repeat(":1\r\n", 50)), []byte{3, 5})
	f.Add([]byte("$2000000000\r\n"+strings.Repeat("a", 200)), []byte{1})
	f.Add([]byte(strings.Repeat("*1\r\n", 200)+":1\r\n"), []byte{4, 1, 9})
	f.Add([]byte("$16\r\n\x00\xff\x00\xff\x00\xff\x00\xff\x00\xff\x00\xff\x00\xff\x00\xff\r\n"), []byte{2})
	f.Add([]byte("*-5\r\n"), []byte{1})
	f.Add([]byte("*3\r\n$3\r\nabc\r\n:99999999999999999999\r\n$-1\r\n"), []byte{7})
	for _, tc := range valid {
		f.Add([]byte(tc.in), []byte{1, 2, 3})
	}
	for _, tc := range invalid {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in), []byte{5})
		}
	}
	small := Limits{MaxBulk: 40, MaxElems: 12, MaxDepth: 3, MaxLine: 24}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		for _, l := range []Limits{small, {}} {
			n0, err0 := NewChecker(l).Check(data)
			if n0 < 0 || n0 > len(data) || (err0 == nil) != (n0 == len(data)) {
				t.Fatalf("passed %d of %d bytes, err %v", n0, len(data), err0)
			}
			var e0 *Error
			if err0 != nil && !errors.As(err0, &e0) {
				t.Fatalf("error %T %v", err0, err0)
			}
			// The same stream in the chunks cuts says.
			c := NewChecker(l)
			passed, i := 0, 0
			var err error
			for k := 0; i < len(data) && err == nil; k++ {
				size := len(data) - i
				if len(cuts) > 0 {
					size = min(size, int(cuts[k%len(cuts)])+1)
				}
				var n int
				n, err = c.Check(data[i : i+size])
				passed += n
				i += size
			}
			var e *Error
			if passed != n0 || (err == nil) != (err0 == nil) || err != nil && (!errors.As(err, &e) || e.Kind != e0.Kind) {
				t.Fatalf("cut: passed %d, %v; whole: passed %d, %v", passed, err, n0, err0)
			}
			// Through a Conn: the prefix, unchanged.
			chunk := 1
			if len(cuts) > 0 {
				chunk = int(cuts[0]) + 1
			}
			got, err := io.ReadAll(Wrap(&chunked{data: bytes.Clone(data), chunk: chunk}, l))
			if !bytes.Equal(got, data[:n0]) || (err == nil) != (err0 == nil) {
				t.Fatalf("conn passed %q, %v; want %q, %v", got, err, data[:n0], err0)
			}
		}
	})
}
