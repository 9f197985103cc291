// Package logs reads access logs for replay through the engine. The fixed
// formats (Apache/nginx combined and common) have a hand-written parser: no
// regular expression on the hot path and no allocation per line, because the
// Taobao-scale question is a billion lines.
package logs

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Entry is one access-log line. Its byte-slice fields point into the line
// given to Parse and are valid only until that buffer is reused.
type Entry struct {
	Addr      []byte
	Ident     []byte
	User      []byte
	Time      time.Time
	Method    []byte // empty when the request line was not "METHOD TARGET PROTO"
	Target    []byte // the request target (path and query), or the whole request line if malformed
	Proto     []byte
	Status    int
	Bytes     int64 // -1 when logged as "-"
	Referer   []byte
	UserAgent []byte
	// ForwardedFor is the X-Forwarded-For header the request came with
	// ($http_x_forwarded_for), where the format logs it: believed hop by
	// hop from the right as far as identity.trusted_proxies says.
	ForwardedFor []byte
	// Combined reports whether the line logs the user agent (combined
	// format, a log_format with $http_user_agent, a JSON line with the
	// field) rather than not (common format): an empty one logged is no
	// User-Agent sent, one not logged is unknown.
	Combined bool
	// Truncated reports a user agent cut off before its closing quote (the
	// line's last field, so nothing after it is lost): seen in real logs.
	Truncated bool
	// Account and Session, when the format logs them (nginx log_format
	// variables, JSON fields): raw here, hashed by identity before use.
	Account, Session []byte
	// TLS: the client's TLS fingerprint (JA4), when the edge logs it
	// (nginx variable, JSON field).
	TLS []byte
}

// ParseError says which field of a line could not be read.
type ParseError struct {
	Field string
	Pos   int
}

func (e *ParseError) Error() string { return fmt.Sprintf("malformed %s at byte %d", e.Field, e.Pos) }

// ErrEmpty is returned for blank lines.
var ErrEmpty = errors.New("empty line")

// ParseCombined parses an Apache/nginx "combined" line, or a "common" one
// (the same without referer and user agent). Fields after the user agent are
// ignored, so combined logs with extra fields appended also parse.
func ParseCombined(line []byte, e *Entry) error {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return ErrEmpty
	}
	*e = Entry{}
	p := 0
	var ok bool
	if e.Addr, p, ok = token(line, p); !ok {
		return &ParseError{"client address", p}
	}
	if e.Ident, p, ok = token(line, p); !ok {
		return &ParseError{"ident", p}
	}
	if e.User, p, ok = token(line, p); !ok {
		return &ParseError{"user", p}
	}
	p = skipSpaces(line, p)
	if p >= len(line) || line[p] != '[' {
		return &ParseError{"time", p}
	}
	end := p + 1
	for end < len(line) && line[end] != ']' {
		end++
	}
	if end >= len(line) {
		return &ParseError{"time", p}
	}
	t, err := parseTime(line[p+1 : end])
	if err != nil {
		return &ParseError{"time", p + 1}
	}
	e.Time = t
	p = skipSpaces(line, end+1)
	var req []byte
	if req, p, ok = quoted(line, p); !ok {
		return &ParseError{"request", p}
	}
	splitRequest(req, e)
	e.Target = Unescape(e.Target)
	var f []byte
	if f, p, ok = token(line, p); !ok || len(f) != 3 {
		return &ParseError{"status", p}
	}
	e.Status = int(f[0]-'0')*100 + int(f[1]-'0')*10 + int(f[2]-'0')
	if !isDigits(f) || e.Status < 100 {
		return &ParseError{"status", p}
	}
	if f, p, ok = token(line, p); !ok {
		return &ParseError{"bytes", p}
	}
	if e.Bytes, ok = parseBytes(f); !ok {
		return &ParseError{"bytes", p}
	}
	if p = skipSpaces(line, p); p >= len(line) {
		return nil // common format
	}
	if e.Referer, p, ok = quoted(line, p); !ok {
		return &ParseError{"referer", p}
	}
	if e.UserAgent, p, ok = quoted(line, p); !ok {
		if p < len(line) && line[p] == '"' && !bytes.ContainsRune(line[p+1:], '"') {
			e.UserAgent, e.Truncated, e.Combined = line[p+1:], true, true
			return nil
		}
		return &ParseError{"user agent", p}
	}
	// "-" is what nginx and Apache log for a request without a User-Agent,
	// which live is automation's: none, as the nginx and alb formats read it.
	e.UserAgent = dash(Unescape(e.UserAgent))
	e.Combined = true
	return nil
}

// Unescape returns a field as the client sent it, without the escapes
// the server wrote it with: nginx's \xHH (for a quote, a backslash, and
// bytes below 0x20 or above 0x7e: a raw UTF-8 path is all of them) and
// Apache's \" and \\ besides. Left escaped, a path's backslashes were
// taken for slashes when it was matched, and /api/users/\xE5\xBC\xA0
// was no record. b itself when it has no backslash; a copy otherwise.
func Unescape(b []byte) []byte {
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return b
	}
	out := append(make([]byte, 0, len(b)), b[:i]...)
	for ; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		switch n := b[i+1]; {
		case n == '"' || n == '\\':
			out = append(out, n)
			i++
		case n == 'x' && i+3 < len(b) && unhex(b[i+2]) >= 0 && unhex(b[i+3]) >= 0:
			out = append(out, byte(unhex(b[i+2])<<4|unhex(b[i+3])))
			i += 3
		default:
			out = append(out, c)
		}
	}
	return out
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func skipSpaces(b []byte, p int) int {
	for p < len(b) && b[p] == ' ' {
		p++
	}
	return p
}

// token reads a space-delimited field.
func token(b []byte, p int) ([]byte, int, bool) {
	p = skipSpaces(b, p)
	start := p
	for p < len(b) && b[p] != ' ' {
		p++
	}
	if p == start {
		return nil, p, false
	}
	return b[start:p], p, true
}

// quoted reads a "..." field; a backslash escapes the next byte (Apache
// writes \" and nginx \x22, both of which keep the quote inside). The field is
// returned as logged, escapes included.
func quoted(b []byte, p int) ([]byte, int, bool) {
	p = skipSpaces(b, p)
	if p >= len(b) || b[p] != '"' {
		return nil, p, false
	}
	start := p + 1
	// Jump from quote to quote (IndexByte is vectorised): a quote closes
	// the field unless an odd run of backslashes escapes it.
	for i := start; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			break
		}
		q := i + j
		n := 0
		for k := q - 1; k >= start && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return b[start:q], q + 1, true
		}
		i = q + 1
	}
	return nil, p, false
}

func splitRequest(req []byte, e *Entry) {
	sp1 := -1
	for i, c := range req {
		if c == ' ' {
			sp1 = i
			break
		}
	}
	if sp1 <= 0 {
		e.Target = req
		return
	}
	sp2 := -1
	for i := len(req) - 1; i > sp1; i-- {
		if req[i] == ' ' {
			sp2 = i
			break
		}
	}
	if sp2 < 0 {
		// "GET /path" (HTTP/0.9 style)
		e.Method, e.Target = req[:sp1], req[sp1+1:]
		return
	}
	e.Method, e.Target, e.Proto = req[:sp1], req[sp1+1:sp2], req[sp2+1:]
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func parseBytes(b []byte) (int64, bool) {
	if len(b) == 1 && b[0] == '-' {
		return -1, true
	}
	if !isDigits(b) || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func month(b []byte) (time.Month, bool) {
	switch string(b) { // no allocation: the compiler compares in place
	case "Jan":
		return time.January, true
	case "Feb":
		return time.February, true
	case "Mar":
		return time.March, true
	case "Apr":
		return time.April, true
	case "May":
		return time.May, true
	case "Jun":
		return time.June, true
	case "Jul":
		return time.July, true
	case "Aug":
		return time.August, true
	case "Sep":
		return time.September, true
	case "Oct":
		return time.October, true
	case "Nov":
		return time.November, true
	case "Dec":
		return time.December, true
	}
	return 0, false
}

var errBadTime = errors.New("bad time")

// parseTime reads "17/May/2015:10:05:03 +0000" by position.
func parseTime(b []byte) (time.Time, error) {
	bad := errBadTime
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return time.Time{}, bad
	}
	num := func(s []byte) (int, bool) {
		if !isDigits(s) {
			return 0, false
		}
		n := 0
		for _, c := range s {
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	day, ok1 := num(b[0:2])
	mon, ok2 := month(b[3:6])
	year, ok3 := num(b[7:11])
	hh, ok4 := num(b[12:14])
	mm, ok5 := num(b[15:17])
	ss, ok6 := num(b[18:20])
	zh, ok7 := num(b[22:24])
	zm, ok8 := num(b[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || (b[21] != '+' && b[21] != '-') ||
		day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zh > 14 || zm > 59 {
		return time.Time{}, bad
	}
	if day > 28 && day > time.Date(year, mon+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		// 29/Feb/2026 or 31/Nov: time.Date would roll it into the next
		// month, silently.
		return time.Time{}, bad
	}
	off := (zh*60 + zm) * 60
	if b[21] == '-' {
		off = -off
	}
	// UTC arithmetic instead of time.FixedZone: no allocation per line.
	return time.Date(year, mon, day, hh, mm, ss, 0, time.UTC).Add(-time.Duration(off) * time.Second), nil
}

// OriginForm returns the path of an absolute-form request target, as
// forward proxies and AWS load balancers log it
// ("https://example.com:443/a/b" is "/a/b"); other targets unchanged.
func OriginForm(t []byte) []byte {
	for _, scheme := range []string{"http://", "https://", "ws://", "wss://"} { // an ALB logs WebSocket upgrades so
		if len(t) > len(scheme) && bytes.EqualFold(t[:len(scheme)], []byte(scheme)) {
			rest := t[len(scheme):]
			if i := bytes.IndexAny(rest, "/?"); i >= 0 {
				if rest[i] == '?' {
					return append([]byte{'/'}, rest[i:]...)
				}
				return rest[i:]
			}
			return []byte{'/'}
		}
	}
	return t
}
