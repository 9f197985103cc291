// Package records knows where personal records are in traffic: which routes
// serve them (path templates), where they sit in JSON responses (JSONPath),
// and what personal data looks like in any body (phones, e-mails, resident
// IDs, bank cards).
package records

import (
	"fmt"
	"strings"
)

// Route is a parsed "METHOD /path/{param}" template.
type Route struct {
	Method   string // "*" matches any method
	Segments []string
	Params   []string // parameter names in order
	// params[i] is the parameter index of segment i, or -1 for a literal.
	params []int
	// rest: the last segment is {name...}, matching the rest of the path
	// (none or more segments, as in net/http), e.g. GET /{page...} meters
	// distinct pages, the home page "/" among them.
	rest bool
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
	if r.Method != "*" && r.Method != method && !(r.Method == "GET" && method == "HEAD") {
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
		} else if seg != r.Segments[i] {
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
