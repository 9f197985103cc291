// Package records knows where personal records are in traffic: which routes
// serve them (path templates), where they sit in JSON responses (JSONPath),
// and what personal data looks like in any body (phones, e-mails, resident
// IDs, bank cards).
package records

import (
	"fmt"
	"slices"
	"strings"
)

// Route is a parsed "METHOD /path/{param}" template.
//
// The written method documents what the route is for; it does not restrict
// what counts. Frameworks answer POST, PUT, OPTIONS or an overridden method
// on the same resource, and a record served to any of them is served, so a
// route matches every method unless Restrict lists some.
type Route struct {
	Method   string // as written: a method or "*"
	Segments []string
	Params   []string // parameter names in order
	// params[i] is the parameter index of segment i, or -1 for a literal.
	params []int
	// rest: the last segment is {name...}, matching the rest of the path
	// (none or more segments, as in net/http), e.g. GET /{page...} meters
	// distinct pages, the home page "/" among them.
	rest bool
	// methods, when set by Restrict, are the only ones that count.
	methods []string
	// caseSensitive: literal segments must match in case too. Off by
	// default, as most API frameworks route /API/Users/7 like /api/users/7.
	caseSensitive bool
}

// Restrict makes only the listed methods count (GET also admits HEAD, a
// GET without the body). An empty list leaves every method counting.
func (r *Route) Restrict(list []string) error {
	for _, m := range list {
		if m == "*" || !slices.Contains(methods, m) {
			return fmt.Errorf("unknown method %q in the methods of %q", m, r)
		}
	}
	if len(list) == 0 {
		r.methods = nil
		return nil
	}
	r.methods = slices.Clone(list)
	return nil
}

// Methods returns the methods Restrict left counting, nil for all.
func (r *Route) Methods() []string { return r.methods }

// CaseSensitive makes literal segments match only in the case written.
func (r *Route) CaseSensitive(on bool) { r.caseSensitive = on }

func (r *Route) allows(method string) bool {
	if r.methods == nil {
		return true
	}
	for _, m := range r.methods {
		if m == method || (m == "GET" && method == "HEAD") {
			return true
		}
	}
	return false
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"}

// ParseRoute parses a route template such as "GET /api/users/{id}".
func ParseRoute(s string) (*Route, error) {
	method, path, ok := strings.Cut(strings.TrimSpace(s), " ")
	path = strings.TrimSpace(path)
	if !ok || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t?#") {
		return nil, fmt.Errorf(`want "METHOD /path/{param}", got %q`, s)
	}
	valid := false
	for _, m := range methods {
		valid = valid || m == method
	}
	if !valid {
		return nil, fmt.Errorf("unknown method %q in route %q", method, s)
	}
	r := &Route{Method: method}
	segs := splitPath(path)
	for si, seg := range segs {
		idx := -1
		if strings.ContainsAny(seg, "{}") {
			name := strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}")
			if n, ok := strings.CutSuffix(name, "..."); ok {
				if si != len(segs)-1 {
					return nil, fmt.Errorf("{%s} must be the last segment of %q", name, s)
				}
				name, r.rest = n, true
			}
			if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' || strings.ContainsAny(name, "{}") {
				return nil, fmt.Errorf("a parameter must be a whole path segment like {id}, got %q", seg)
			}
			if r.ParamIndex(name) >= 0 {
				return nil, fmt.Errorf("parameter {%s} appears twice in %q", name, s)
			}
			idx = len(r.Params)
			r.Params = append(r.Params, name)
		}
		r.Segments = append(r.Segments, seg)
		r.params = append(r.params, idx)
	}
	return r, nil
}

// ParamIndex returns the position of the named parameter, or -1.
func (r *Route) ParamIndex(name string) int {
	for i, p := range r.Params {
		if p == name {
			return i
		}
	}
	return -1
}

func (r *Route) String() string { return r.Method + " /" + strings.Join(r.Segments, "/") }

// Rest reports whether the route ends in a {name...} segment.
func (r *Route) Rest() bool { return r.rest }

// splitPath splits on "/" ignoring empty segments, so "//a/b/" and "/a/b" are
// the same path: many upstreams normalise them, and a scraper must not get a
// fresh budget by adding slashes.
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// match reports whether method and path fit r and, if so, the value of the
// parameter at position want (or "" when want < 0). It does not allocate.
func (r *Route) match(method, path string, want int) (string, bool) {
	if !r.allows(method) {
		return "", false
	}
	var val string
	full := path
	i := 0
	for len(path) > 0 {
		// next segment
		for len(path) > 0 && path[0] == '/' {
			path = path[1:]
		}
		if len(path) == 0 {
			break
		}
		end := strings.IndexByte(path, '/')
		if end < 0 {
			end = len(path)
		}
		seg := path[:end]
		path = path[end:]
		if i >= len(r.Segments) {
			return "", false
		}
		if p := r.params[i]; p >= 0 {
			if r.rest && i == len(r.Segments)-1 {
				if p == want { // seg and the rest of path, contiguous: no copy
					val = strings.TrimRight(full[len(full)-len(seg)-len(path):], "/")
				}
				i++
				break
			}
			if p == want {
				val = seg
			}
		} else if seg != r.Segments[i] && (r.caseSensitive || !strings.EqualFold(seg, r.Segments[i])) {
			return "", false
		}
		i++
	}
	if r.rest && i == len(r.Segments)-1 {
		i++ // {rest...} matches nothing too: "/" for GET /{page...}
	}
	if i != len(r.Segments) {
		return "", false
	}
	return val, true
}

// NormalizePath turns a request path into the resource an upstream is
// likely to serve for it, so that spelling a path differently does not
// escape a route: percent-encoding is decoded (repeatedly, as some
// stacks decode twice: %2575 is u), backslashes are slashes (IIS,
// ASP.NET), ";parameters" are cut from segments (Tomcat, Spring), and "."
// and ".." segments are resolved. Empty segments are left in: matching
// skips them. Merging too much is the safe side: a path the upstream
// does not serve gets a 404, which counts nothing. A path needing none of
// this is returned as is, without allocating.
func NormalizePath(p string) string {
	if !strings.ContainsAny(p, "%\\;") && !hasDotSegment(p) {
		return p
	}
	for round := 0; round < 8 && strings.IndexByte(p, '%') >= 0; round++ {
		d, changed := percentDecode(p)
		if !changed {
			break
		}
		p = d
	}
	p = strings.ReplaceAll(p, "\\", "/")
	if strings.IndexByte(p, ';') >= 0 {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if j := strings.IndexByte(s, ';'); j >= 0 {
				segs[i] = s[:j]
			}
		}
		p = strings.Join(segs, "/")
	}
	if hasDotSegment(p) {
		var out []string
		for _, s := range strings.Split(p, "/") {
			switch s {
			case "", ".":
			case "..":
				if len(out) > 0 {
					out = out[:len(out)-1]
				}
			default:
				out = append(out, s)
			}
		}
		p = "/" + strings.Join(out, "/")
	}
	return p
}

// hasDotSegment reports whether p has a "." or ".." segment.
func hasDotSegment(p string) bool {
	for i := 0; i < len(p); {
		j := strings.IndexByte(p[i:], '/')
		var seg string
		if j < 0 {
			seg, i = p[i:], len(p)
		} else {
			seg, i = p[i:i+j], i+j+1
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// percentDecode decodes every valid %XX; malformed escapes stay as written
// (an upstream rejecting them serves nothing to count).
func percentDecode(p string) (string, bool) {
	var b []byte
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			if b == nil {
				b = append(make([]byte, 0, len(p)), p[:i]...)
			}
			b = append(b, unhex(p[i+1])<<4|unhex(p[i+2]))
			i += 2
			continue
		}
		if b != nil {
			b = append(b, p[i])
		}
	}
	if b == nil {
		return p, false
	}
	return string(b), true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
