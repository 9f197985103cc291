package follow

import (
	"bytes"
	"errors"
)

// Syslog is one message as an RFC 3164 sender (nginx's access_log
// syslog:server=...) writes it:
//
//	<190>Dec  1 08:40:05 host nginx: 203.0.113.5 - - [01/Dec/2026:08:40:05 +0000] "GET /a HTTP/1.1" 200 ...
//
// or without the host (nginx's nohostname). Its slices point into the
// datagram.
type Syslog struct {
	Priority int
	Host     []byte // empty when the sender left it out
	Tag      []byte // without the [pid] some senders add
	Msg      []byte // the access log line
}

var (
	errNoPriority  = errors.New("syslog: no <priority>")
	errNoTimestamp = errors.New("syslog: no RFC 3164 timestamp")
	errNoTag       = errors.New("syslog: no tag")
)

// ParseSyslog reads one RFC 3164 message (a datagram may hold several:
// Datagram). It checks the header's shape,
// not its values (the time is the sender's clock, to the second, without
// a year: leakguard meters in its own time).
func ParseSyslog(b []byte, m *Syslog) error {
	*m = Syslog{}
	b = bytes.TrimRight(b, "\r\n\x00")
	if len(b) < 3 || b[0] != '<' {
		return errNoPriority
	}
	i := 1
	for ; i < len(b) && i <= 4 && b[i] >= '0' && b[i] <= '9'; i++ {
		m.Priority = m.Priority*10 + int(b[i]-'0')
	}
	if i == 1 || i >= len(b) || b[i] != '>' || m.Priority > 191 {
		return errNoPriority
	}
	b = b[i+1:]
	// "Mmm dd hh:mm:ss " (the day padded with a space)
	if len(b) < 16 || b[3] != ' ' || b[6] != ' ' || b[9] != ':' || b[12] != ':' || b[15] != ' ' || !isMonth(b[:3]) ||
		!digits(b[10:12]) || !digits(b[13:15]) || !digits(b[7:9]) || !(b[4] == ' ' || digit(b[4])) || !digit(b[5]) {
		return errNoTimestamp
	}
	b = b[16:]
	// The next word is the tag when it ends with ':' (no host), else the host.
	word, rest := cut(b)
	if !tagWord(word) {
		if len(word) == 0 {
			return errNoTag
		}
		m.Host = word
		if word, rest = cut(rest); !tagWord(word) {
			return errNoTag
		}
	}
	tag := word[:len(word)-1]
	if k := bytes.IndexByte(tag, '['); k >= 0 && tag[len(tag)-1] == ']' {
		tag = tag[:k]
	}
	if len(tag) == 0 {
		return errNoTag
	}
	m.Tag, m.Msg = tag, rest
	return nil
}

// tagWord reports whether w is "tag:" or "tag[pid]:".
func tagWord(w []byte) bool { return len(w) >= 2 && w[len(w)-1] == ':' }

// cut splits off the first space-separated word.
func cut(b []byte) (word, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

func digits(b []byte) bool {
	for _, c := range b {
		if !digit(c) {
			return false
		}
	}
	return true
}

func isMonth(b []byte) bool {
	switch string(b) {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
		return true
	}
	return false
}

// MaxLines bounds the messages read from one datagram; the lines past it
// are counted (Excess), not read. nginx sends one line a datagram; a
// shipper that batches lines sends a few.
const MaxLines = 128

// Datagram reads the messages of one datagram, a line each: senders that
// batch lines put several in a datagram, separated by newlines, each with
// its own header or only the first with one. Blank lines are skipped.
type Datagram struct {
	rest []byte
	last Syslog // the header of the last line that had one
	head bool   // last is set
	n    int    // lines read
}

// Reset starts reading b.
func (d *Datagram) Reset(b []byte) { *d = Datagram{rest: b} }

// Next reads the next line into m, and reports false when no line is
// left or MaxLines have been read. A line with an RFC 3164 header is read
// as ParseSyslog reads it; a line without one is the message of the last
// header before it in the datagram (its priority, host and tag). A line
// that is neither is an error, with the line in m.Msg.
func (d *Datagram) Next(m *Syslog) (ok bool, err error) {
	for d.n < MaxLines {
		line := d.line()
		if line == nil {
			return false, nil
		}
		if len(line) == 0 {
			continue
		}
		d.n++
		if err = ParseSyslog(line, m); err == nil {
			d.last, d.head = *m, true
			return true, nil
		}
		if d.head {
			*m = d.last
			m.Msg = line
			return true, nil
		}
		*m = Syslog{Msg: line}
		return true, err
	}
	return false, nil
}

// Excess is the number of lines past MaxLines, left unread (call it once
// Next reports false).
func (d *Datagram) Excess() int {
	n := 0
	for line := d.line(); line != nil; line = d.line() {
		if len(line) > 0 {
			n++
		}
	}
	return n
}

// line cuts the next line, without its \r or NULs, off the datagram: nil
// at its end, empty for a blank line.
func (d *Datagram) line() []byte {
	if d.rest == nil {
		return nil
	}
	line := d.rest
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line, d.rest = line[:i], d.rest[i+1:]
	} else {
		d.rest = nil
	}
	for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == 0) {
		line = line[:len(line)-1] // still not nil: a slice of the datagram
	}
	return line
}
