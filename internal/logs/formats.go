package logs

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Parser reads one log line into an entry.
type Parser interface {
	Parse(line []byte, e *Entry) error
}

// Combined is the Apache/nginx combined (and common) format.
type Combined struct{}

func (Combined) Parse(line []byte, e *Entry) error { return ParseCombined(line, e) }

// ALBFormat is the AWS Application Load Balancer access log, as a log_format:
// the client is address:port and the request target is absolute
// ("GET https://example.com:443/a HTTP/1.1"); fields after the user agent
// are ignored.
const ALBFormat = `$type $time_iso8601 $elb $remote_addr $target $request_processing_time $target_processing_time $response_processing_time $status $target_status $received_bytes $body_bytes_sent "$request" "$http_user_agent" $rest`

// NginxFormat parses lines written by an nginx log_format, so operators who
// log $http_x_account or $cookie_sid get account and session keys.
type NginxFormat struct {
	parts   []part
	Account string // variable holding the account (e.g. http_x_account)
	Session string // variable holding the session (e.g. cookie_sid)
	TLS     string // variable holding the client's TLS fingerprint (e.g. http_x_ja4)
	ua      bool   // the format logs $http_user_agent
}

type part struct {
	lit  []byte // literal text before the variable (may be empty)
	name string // variable name, "" for the trailing literal
}

// logs reports whether the format logs variable name.
func (f *NginxFormat) logs(name string) bool {
	for _, p := range f.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

// NewNginxFormat compiles a log_format string such as
// `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_account"`.
// Every variable must be followed by a literal (or end the line), or the
// format cannot be split unambiguously.
func NewNginxFormat(format string) (*NginxFormat, error) {
	f := &NginxFormat{}
	var lit []byte
	for i := 0; i < len(format); {
		if format[i] != '$' {
			lit = append(lit, format[i])
			i++
			continue
		}
		j := i + 1
		brace := j < len(format) && format[j] == '{'
		if brace {
			j++
		}
		k := j
		for k < len(format) && (format[k] == '_' || format[k] >= 'a' && format[k] <= 'z' || format[k] >= 'A' && format[k] <= 'Z' || format[k] >= '0' && format[k] <= '9') {
			k++
		}
		if k == j {
			return nil, fmt.Errorf("log format: a $ without a variable name at %d", i)
		}
		name := strings.ToLower(format[j:k])
		if brace {
			if k >= len(format) || format[k] != '}' {
				return nil, fmt.Errorf("log format: ${%s without }", name)
			}
			k++
		}
		if n := len(f.parts); n > 0 && len(lit) == 0 {
			return nil, fmt.Errorf("log format: $%s follows $%s with nothing between them", name, f.parts[n-1].name)
		}
		f.parts = append(f.parts, part{lit: lit, name: name})
		lit = nil
		i = k
	}
	f.parts = append(f.parts, part{lit: lit})
	have := map[string]bool{}
	for _, p := range f.parts {
		have[p.name] = true
	}
	f.ua = have["http_user_agent"]
	if !have["remote_addr"] && !have["http_x_forwarded_for"] {
		return nil, errors.New("log format: needs $remote_addr (or $http_x_forwarded_for)")
	}
	if !have["time_local"] && !have["time_iso8601"] && !have["msec"] {
		return nil, errors.New("log format: needs $time_local, $time_iso8601 or $msec")
	}
	if !have["request"] && !have["request_uri"] && !have["uri"] {
		return nil, errors.New("log format: needs $request, $request_uri or $uri")
	}
	return f, nil
}

// Parse implements Parser.
func (f *NginxFormat) Parse(line []byte, e *Entry) error {
	*e = Entry{Bytes: -1}
	line = bytes.TrimRight(line, "\r\n")
	p := 0
	for i, pt := range f.parts {
		if !bytes.HasPrefix(line[p:], pt.lit) {
			return &ParseError{Field: "literal " + strconv.Quote(string(pt.lit))}
		}
		p += len(pt.lit)
		if pt.name == "" {
			break
		}
		end := len(line)
		if next := f.parts[i+1].lit; len(next) > 0 {
			k := bytes.Index(line[p:], next)
			if k < 0 {
				return &ParseError{Field: pt.name}
			}
			end = p + k
		}
		if err := f.set(e, pt.name, line[p:end]); err != nil {
			return err
		}
		p = end
	}
	if len(e.Addr) == 0 && len(e.ForwardedFor) == 0 || e.Time.IsZero() {
		return &ParseError{Field: "remote_addr or time"}
	}
	e.Combined = f.ua
	return nil
}

// parseISO reads ISO 8601 times as proxies write them: RFC 3339 with any
// fraction, or a space for the T, or no zone (taken as UTC).
func parseISO(v []byte) (time.Time, error) {
	var err error
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		var t time.Time
		if t, err = time.Parse(layout, string(v)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

func dash(v []byte) []byte {
	if len(v) == 1 && v[0] == '-' {
		return nil
	}
	return v
}

func (f *NginxFormat) set(e *Entry, name string, v []byte) error {
	switch name {
	case "remote_addr":
		e.Addr = v
	case "http_x_forwarded_for":
		// Whom to believe in it is the config's (identity.trusted_proxies,
		// identity.Resolver.LoggedClientAddr): its left-most entry, taken
		// until 2026-12-05, is whatever the client sent.
		e.ForwardedFor = dash(v)
	case "remote_user":
		e.User = v
	case "time_local":
		// By position, as the combined format's: time.Parse was a
		// twentieth of analyze's CPU on an API's log.
		t, err := parseTime(v)
		if err != nil {
			return &ParseError{Field: "time_local"}
		}
		e.Time = t
	case "time_iso8601":
		t, err := parseISO(v)
		if err != nil {
			return &ParseError{Field: "time_iso8601"}
		}
		e.Time = t
	case "msec":
		sec, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return &ParseError{Field: "msec"}
		}
		e.Time = time.Unix(0, int64(sec*1e9)).UTC()
	case "request":
		// bytes.SplitN(v, " ", 3) without its slice of parts: method,
		// target and the rest, when there are two spaces.
		e.Target = v
		if i := bytes.IndexByte(v, ' '); i >= 0 {
			if j := bytes.IndexByte(v[i+1:], ' '); j >= 0 {
				e.Method, e.Target, e.Proto = v[:i:i], v[i+1:i+1+j:i+1+j], v[i+2+j:]
			}
		}
		e.Target = Unescape(e.Target)
	case "request_method":
		e.Method = v
	case "request_uri", "uri":
		if len(e.Target) == 0 {
			e.Target = Unescape(v)
		}
	case "status":
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return &ParseError{Field: "status"}
		}
		e.Status = n
	case "body_bytes_sent", "bytes_sent":
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			e.Bytes = n
		}
	case "http_referer":
		e.Referer = dash(v)
	case "http_user_agent":
		e.UserAgent = Unescape(dash(v))
	}
	if name == f.Account && f.Account != "" {
		e.Account = dash(v)
	}
	if name == f.Session && f.Session != "" {
		e.Session = dash(v)
	}
	if name == f.TLS && f.TLS != "" {
		e.TLS = dash(v)
	}
	return nil
}

// albFormat is ALBFormat's parser: the load balancer logs its client as
// address:port with an IPv6 address unbracketed
// ("2600:1f18:4fe:d201::e2a6:50718"), which no address parser reads (or,
// with a port of four digits or fewer, reads as another IPv6 address), so
// the port is cut at the last colon.
type albFormat struct{ *NginxFormat }

func (f albFormat) Parse(line []byte, e *Entry) error {
	if err := f.NginxFormat.Parse(line, e); err != nil {
		return err
	}
	e.Addr = cutPort(e.Addr)
	return nil
}

// cutPort returns a, logged as address:port (IPv6 with or without
// brackets), without its port; a without a decimal port unchanged.
func cutPort(a []byte) []byte {
	i := bytes.LastIndexByte(a, ':')
	if i <= 0 || !isDigits(a[i+1:]) || a[0] == '[' {
		return a
	}
	return a[:i]
}

// JSONLines parses one JSON object a line, with a field mapping.
type JSONLines struct {
	Time, Addr, Method, Path, Status, UA, Account, Session, Request, TLS, XFF string
}

// DefaultJSONFields are the names tried when a mapping names none (a
// function: a mapping starts from them and must not change them for the
// next).
func DefaultJSONFields() JSONLines {
	return JSONLines{Time: "time", Addr: "remote_addr", Method: "method", Path: "path", Status: "status",
		UA: "user_agent", Request: "request"}
}

// ParseJSONFields reads a mapping such as "time=ts,addr=client.ip,ua=headers.user-agent,account=user_id"
// (gjson paths), on top of the defaults.
func ParseJSONFields(s string) (JSONLines, error) {
	j := DefaultJSONFields()
	if strings.TrimSpace(s) == "" {
		return j, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return j, fmt.Errorf("--fields: want name=path pairs, got %q", kv)
		}
		dst, ok := map[string]*string{"time": &j.Time, "addr": &j.Addr, "method": &j.Method, "path": &j.Path, "status": &j.Status,
			"ua": &j.UA, "account": &j.Account, "session": &j.Session, "request": &j.Request, "tls": &j.TLS, "xff": &j.XFF}[k]
		if !ok {
			return j, fmt.Errorf("--fields: unknown field %q (want time, addr, method, path, status, ua, account, session, request, tls, xff)", k)
		}
		*dst = v
	}
	return j, nil
}

// stripCRI removes the prefix a container runtime (containerd, CRI-O: the
// Kubernetes node log format) puts before each line an app wrote:
// "2025-12-31T17:37:40.493035218+01:00 stdout F {...}".
func stripCRI(line []byte) []byte {
	if len(line) == 0 || line[0] == '{' {
		return line
	}
	rest := line
	for field := 0; field < 3; field++ {
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			return line
		}
		switch f := rest[:i]; field {
		case 0:
			if _, err := time.Parse(time.RFC3339Nano, string(f)); err != nil {
				return line
			}
		case 1:
			if string(f) != "stdout" && string(f) != "stderr" {
				return line
			}
		case 2:
			if string(f) != "F" && string(f) != "P" {
				return line
			}
		}
		rest = rest[i+1:]
	}
	return rest
}

// Parse implements Parser.
func (j JSONLines) Parse(line []byte, e *Entry) error {
	*e = Entry{Bytes: -1}
	line = stripCRI(bytes.TrimSpace(line))
	if !gjson.ValidBytes(line) {
		return &ParseError{Field: "json"}
	}
	get := func(path string) gjson.Result {
		if path == "" {
			return gjson.Result{}
		}
		return gjson.GetBytes(line, path)
	}
	if a := get(j.Addr); a.Exists() {
		e.Addr = []byte(a.String())
	}
	if j.XFF != "" {
		// the X-Forwarded-For header as logged: believed as far as
		// identity.trusted_proxies says (Entry.ForwardedFor)
		if x := get(j.XFF); x.IsArray() {
			// a header logged as a list (Caddy): one line of it each
			var hops []string
			for _, v := range x.Array() {
				hops = append(hops, v.String())
			}
			e.ForwardedFor = []byte(strings.Join(hops, ", "))
		} else if v := x.String(); v != "" && v != "-" {
			e.ForwardedFor = []byte(v)
		}
	}
	t := get(j.Time)
	if t.Type == gjson.String {
		// nginx's escape=json log_format quotes every value: "$msec" is
		// "1796464803.123", a Unix time in a string.
		if v, err := strconv.ParseFloat(t.Str, 64); err == nil {
			t.Type, t.Num = gjson.Number, v
		}
	}
	switch t.Type {
	case gjson.Number:
		v := t.Float()
		switch {
		case v > 1e17: // ns
			e.Time = time.Unix(0, int64(v)).UTC()
		case v > 1e14: // µs
			e.Time = time.UnixMicro(int64(v)).UTC()
		case v > 1e11: // ms
			e.Time = time.UnixMilli(int64(v)).UTC()
		default:
			e.Time = time.Unix(0, int64(v*1e9)).UTC()
		}
	case gjson.String:
		for _, layout := range []string{time.RFC3339Nano, "02/Jan/2006:15:04:05 -0700", "2006-01-02 15:04:05"} {
			if tt, err := time.Parse(layout, t.Str); err == nil {
				e.Time = tt.UTC() // as every other format's: reports say UTC
				break
			}
		}
	}
	e.Method = []byte(get(j.Method).String())
	e.Target = []byte(get(j.Path).String())
	if len(e.Target) == 0 {
		if r := get(j.Request).String(); r != "" {
			parts := strings.SplitN(r, " ", 3)
			if len(parts) >= 2 {
				e.Method, e.Target = []byte(parts[0]), []byte(parts[1])
			}
		}
	}
	e.Status = int(get(j.Status).Int())
	ua := get(j.UA)
	logged := ua.Exists()
	if ua.IsArray() {
		// Caddy and Go servers log a header as a list: its first value.
		ua = ua.Get("0")
	} else if i := strings.LastIndexByte(j.UA, '.'); !logged && i > 0 {
		// A header missing from a logged map of headers (Caddy's
		// request.headers) was not sent; a field missing from the line
		// (Traefik's request_User-Agent, dropped by default) is unknown.
		logged = get(j.UA[:i]).IsObject()
	}
	e.UserAgent, e.Combined = []byte(ua.String()), logged
	if v := get(j.Account).String(); v != "" {
		e.Account = []byte(v)
	}
	if v := get(j.Session).String(); v != "" {
		e.Session = []byte(v)
	}
	if v := get(j.TLS).String(); v != "" && v != "-" {
		e.TLS = []byte(v)
	}
	if len(e.Addr) == 0 && len(e.ForwardedFor) == 0 || e.Time.IsZero() || len(e.Target) == 0 {
		return &ParseError{Field: "addr, time or path"}
	}
	return nil
}

// Spec names a log format and its options, as analyze's flags and the
// proxy's follow section give them.
type Spec struct {
	Format    string // combined (or ""/common), nginx, json, alb
	LogFormat string // nginx's log_format, for nginx
	// with nginx or alb: the variables holding the account, the session
	// and the client's TLS fingerprint ("$" optional)
	AccountVar, SessionVar, TLSVar string
	Fields                         string // with json: the field mapping (ParseJSONFields)
}

// ParserOf returns the parser for spec, and whether its lines record
// sessions.
func ParserOf(spec Spec) (Parser, bool, error) {
	switch spec.Format {
	case "", "combined", "common":
		if spec.AccountVar != "" || spec.SessionVar != "" || spec.TLSVar != "" {
			return nil, false, fmt.Errorf("format %s logs no account, session or TLS fingerprint: name the variables with format nginx and its log_format", cmp.Or(spec.Format, "combined"))
		}
		return Combined{}, false, nil
	case "nginx", "alb":
		lf := spec.LogFormat
		if spec.Format == "alb" {
			lf = ALBFormat
		}
		if lf == "" {
			return nil, false, fmt.Errorf("format nginx needs its log_format: the log_format string nginx writes")
		}
		f, err := NewNginxFormat(lf)
		if err != nil {
			return nil, false, err
		}
		f.Account, f.Session, f.TLS = strings.TrimPrefix(spec.AccountVar, "$"), strings.TrimPrefix(spec.SessionVar, "$"), strings.TrimPrefix(spec.TLSVar, "$")
		// A variable the format does not log would silently give no
		// account, session or fingerprint on any line.
		for _, v := range [...]struct{ what, name string }{{"account", f.Account}, {"session", f.Session}, {"TLS fingerprint", f.TLS}} {
			if v.name != "" && !f.logs(v.name) {
				return nil, false, fmt.Errorf("the %s variable $%s is not in the log_format", v.what, v.name)
			}
		}
		if spec.Format == "alb" {
			return albFormat{f}, f.Session != "", nil
		}
		return f, f.Session != "", nil
	case "json":
		if spec.AccountVar != "" || spec.SessionVar != "" || spec.TLSVar != "" {
			return nil, false, fmt.Errorf("format json names its fields in the field mapping (account=, session=, tls=), not in variables")
		}
		j, err := ParseJSONFields(spec.Fields)
		return j, j.Session != "", err
	}
	return nil, false, fmt.Errorf("format %q: want combined, nginx, json or alb", spec.Format)
}
