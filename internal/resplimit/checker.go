package resplimit

import (
	"bytes"
	"fmt"
	"strconv"
)

// Kind is what an Error found.
type Kind uint8

const (
	// Bulk: a string's announced length is above MaxBulk.
	Bulk Kind = iota + 1
	// Elems: an aggregate's announced elements are above MaxElems.
	Elems
	// Depth: aggregates nest deeper than MaxDepth.
	Depth
	// Line: a line runs past MaxLine without its CRLF.
	Line
	// Malformed: the stream is not RESP (or is RESP3 streamed, which
	// Checker refuses: its length is not known up front).
	Malformed
)

// Error is why a Checker refused a stream. Its message is meant for the
// person reading a log or report, who may not know what RESP is.
type Error struct {
	Kind Kind
	msg  string
}

func (e *Error) Error() string { return e.msg }

// Checker follows a RESP2/RESP3 reply stream and says where it first breaks
// its Limits. Its memory is a frame per open aggregate, at most MaxDepth.
type Checker struct {
	l   Limits
	st  state
	err *Error

	typ    byte  // type byte of the header being read
	neg    bool  // its length began with '-'
	digits int   // digits of its length so far
	n      int64 // its length; in sBulk, the payload bytes still to come
	line   int   // bytes of the current simple line so far
	cr     bool  // the simple line's last byte so far is CR

	stack []frame // open aggregates, innermost last
	open  int64   // elements announced by the open aggregates
}

type frame struct {
	left, n int64 // elements still to come, and announced
	attr    bool  // an attribute: it precedes an element and is not one
}

type state uint8

const (
	sType   state = iota // before an element: its type byte
	sLine                // in a simple line, until its LF
	sLen                 // in a header's length, until its CR
	sLenLF               // after a header's CR
	sBulk                // in a string's payload
	sBulkCR              // after a string's payload
	sBulkLF
)

// maxDigits bounds a length's digits: 18 cannot overflow an int64, and no
// bound worth setting has more.
const maxDigits = 18

// NewChecker returns a Checker at the start of a stream.
func NewChecker(l Limits) *Checker { return &Checker{l: l.normal()} }

// Err is the error Check returned, if any.
func (c *Checker) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// Check follows p, the stream's next bytes. It returns len(p), nil while
// the stream keeps within bounds; else the number of p's bytes before the
// first that breaks one (a header's CR when its length is too long: the
// header cannot be complete in what passed) and an *Error. Every later
// call returns 0 and that error.
func (c *Checker) Check(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	i := 0
	for i < len(p) {
		switch c.st {
		case sBulk:
			k := min(int64(len(p)-i), c.n)
			i += int(k)
			if c.n -= k; c.n == 0 {
				c.st = sBulkCR
			}
		case sLine:
			room := c.l.MaxLine - c.line
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				if len(p)-i > room {
					return c.fail(i+room, Line, "has a line longer than %s's bound of %s bytes", c.who(), group(int64(c.l.MaxLine)))
				}
				c.line += len(p) - i
				c.cr = p[len(p)-1] == '\r'
				i = len(p)
				continue
			}
			if j+1 > room {
				return c.fail(i+room, Line, "has a line longer than %s's bound of %s bytes", c.who(), group(int64(c.l.MaxLine)))
			}
			cr := c.cr // the byte before the LF, if it came in an earlier p
			if j > 0 {
				cr = p[i+j-1] == '\r'
			}
			if !cr {
				return c.fail(i+j, Malformed, "is not RESP: a line ends in LF without CR")
			}
			i += j + 1
			c.done()
		case sType:
			switch b := p[i]; b {
			case '+', '-', ':', '_', ',', '#', '(':
				c.st, c.line, c.cr = sLine, 1, false
			case '$', '=', '!', '*', '%', '~', '>', '|':
				c.st, c.typ, c.neg, c.digits, c.n = sLen, b, false, 0, 0
			default:
				return c.fail(i, Malformed, "is not RESP: unknown type byte %s", quote(b))
			}
			i++
		case sLen:
			switch b := p[i]; {
			case b >= '0' && b <= '9':
				if c.digits == maxDigits {
					return c.fail(i, c.kind(), "announced %s with a length of more than %d digits", c.what(), maxDigits)
				}
				c.n = c.n*10 + int64(b-'0')
				c.digits++
			case b == '-' && c.digits == 0 && !c.neg:
				c.neg = true
			case b == '?' && c.digits == 0 && !c.neg:
				return c.fail(i, Malformed, "announced a RESP3 streamed %s, of a length not known up front, which this client refuses", c.what())
			case b == '\r':
				// -1 is a null; go-redis reads an attribute's as
				// nothing at all, not as an element: refused, so
				// that both count elements alike.
				if c.digits == 0 || c.neg && (c.n != 1 || c.typ == '|') {
					return c.fail(i, Malformed, "is not RESP: %s header with an invalid length", c.what())
				}
				if err := c.bound(); err != nil {
					return i, err
				}
				c.st = sLenLF
			default:
				return c.fail(i, Malformed, "is not RESP: %s header with %s in its length", c.what(), quote(b))
			}
			i++
		case sLenLF:
			if p[i] != '\n' {
				return c.fail(i, Malformed, "is not RESP: %s header with %s after its CR", c.what(), quote(p[i]))
			}
			i++
			c.header()
		case sBulkCR, sBulkLF:
			want := byte('\r')
			if c.st == sBulkLF {
				want = '\n'
			}
			if p[i] != want {
				return c.fail(i, Malformed, "is not RESP: %s not followed by CRLF", c.what())
			}
			i++
			if c.st == sBulkCR {
				c.st = sBulkLF
			} else {
				c.done()
			}
		}
	}
	return len(p), nil
}

// bound checks a complete header's length against the limits.
func (c *Checker) bound() error {
	if c.neg {
		return nil // -1: a null
	}
	if c.kind() == Bulk {
		if c.n > c.l.MaxBulk {
			return c.failErr(Bulk, "announced %s of %s bytes, beyond %s's bound of %s", c.what(), group(c.n), c.who(), group(c.l.MaxBulk))
		}
		return nil
	}
	elems := c.elems()
	switch {
	case c.n == 0:
	case elems > c.l.MaxElems:
		return c.failErr(Elems, "announced %s of %s, beyond %s's bound of %s", c.what(), c.count(), c.who(), group(c.l.MaxElems))
	case len(c.stack) >= c.l.MaxDepth:
		return c.failErr(Depth, "nests aggregates deeper than %s's bound of %d", c.who(), c.l.MaxDepth)
	case elems > c.l.MaxElems-c.open: // c.open+elems, without overflow
		return c.failErr(Elems, "announced %s of %s inside aggregates of %s more, beyond %s's bound of %s elements open at once",
			c.what(), c.count(), group(c.open), c.who(), group(c.l.MaxElems))
	}
	return nil
}

// header acts on a complete header, within bounds.
func (c *Checker) header() {
	switch {
	case c.neg:
		c.done()
	case c.kind() == Bulk:
		c.st = sBulk
		if c.n == 0 {
			c.st = sBulkCR
		}
	case c.n == 0:
		if c.typ == '|' {
			c.st = sType // an empty attribute: the element it annotates follows
		} else {
			c.done()
		}
	default:
		e := c.elems()
		c.stack = append(c.stack, frame{left: e, n: e, attr: c.typ == '|'})
		c.open += e
		c.st = sType
	}
}

// done ends an element, and the aggregates it completes.
func (c *Checker) done() {
	c.st = sType
	for len(c.stack) > 0 {
		f := &c.stack[len(c.stack)-1]
		if f.left--; f.left > 0 {
			return
		}
		c.open -= f.n
		c.stack = c.stack[:len(c.stack)-1]
		if f.attr {
			return
		}
	}
}

func (c *Checker) kind() Kind {
	switch c.typ {
	case '$', '=', '!':
		return Bulk
	}
	return Elems
}

// elems is what the header's aggregate holds: pairs count twice.
func (c *Checker) elems() int64 {
	if c.typ == '%' || c.typ == '|' {
		return 2 * c.n
	}
	return c.n
}

func (c *Checker) what() string {
	switch c.typ {
	case '$':
		return "a bulk string"
	case '=':
		return "a verbatim string"
	case '!':
		return "a blob error"
	case '*':
		return "an array"
	case '%':
		return "a map"
	case '~':
		return "a set"
	case '>':
		return "a push message"
	case '|':
		return "an attribute"
	}
	return "an element"
}

func (c *Checker) count() string {
	if c.typ == '%' || c.typ == '|' {
		return fmt.Sprintf("%s (%s)", plural(c.n, "pair"), plural(2*c.n, "element"))
	}
	return plural(c.n, "element")
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return group(n) + " " + what + "s"
}

func (c *Checker) who() string {
	if c.l.Name == "" {
		return "the client"
	}
	return c.l.Name
}

func (c *Checker) failErr(k Kind, format string, args ...any) *Error {
	c.err = &Error{Kind: k, msg: "the server's reply " + fmt.Sprintf(format, args...)}
	return c.err
}

func (c *Checker) fail(i int, k Kind, format string, args ...any) (int, error) {
	return i, c.failErr(k, format, args...)
}

// quote shows a byte of the stream in a message.
func quote(b byte) string {
	if b >= 0x20 && b < 0x7f {
		return strconv.QuoteRune(rune(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

// group writes n with thousands separators: 2,000,000,000.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}
