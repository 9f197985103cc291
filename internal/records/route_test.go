package records

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/keyed"
)

func TestParseRoute(t *testing.T) {
	tests := []struct {
		in      string
		params  []string
		wantErr string
	}{
		{"GET /api/users/{id}", []string{"id"}, ""},
		{"GET /api/items/{item}/reviews/{rid}", []string{"item", "rid"}, ""},
		{"* /api/x", nil, ""},
		{"GET /", nil, ""},
		{"GET api/users", nil, "want"},
		{"FETCH /x", nil, "unknown method"},
		{"GET /a/{id}x", nil, "whole path segment"},
		{"GET /a/{}", nil, "whole path segment"},
		{"GET /a/{id}/{id}", nil, "twice"},
		{"GET /a?b=1", nil, "want"},
		{"GET /{page...}", []string{"page"}, ""},
		{"GET /u/{id}/{rest...}", []string{"id", "rest"}, ""},
		{"GET /{page...}/x", nil, "last segment"},
		{"", nil, "want"},
	}
	for _, tt := range tests {
		r, err := ParseRoute(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRoute(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRoute(%q): %v", tt.in, err)
			continue
		}
		if strings.Join(r.Params, ",") != strings.Join(tt.params, ",") {
			t.Errorf("ParseRoute(%q) params = %v, want %v", tt.in, r.Params, tt.params)
		}
	}
}

func TestRouteMatch(t *testing.T) {
	users, _ := ParseRoute("GET /api/users/{id}")
	reviews, _ := ParseRoute("GET /api/items/{id}/reviews")
	any, _ := ParseRoute("* /api/lookup")
	pages, _ := ParseRoute("GET /{page...}")
	docs, _ := ParseRoute("GET /docs/{path...}")
	tests := []struct {
		r      *Route
		method string
		path   string
		ok     bool
		val    string
	}{
		{users, "GET", "/api/users/42", true, "42"},
		{users, "HEAD", "/api/users/42", true, "42"},
		{users, "POST", "/api/users/42", true, "42"},  // the written method documents, it does not restrict
		{users, "GET", "/api/users/42/", true, "42"},  // trailing slash is the same record
		{users, "GET", "//api//users/42", true, "42"}, // so are doubled slashes
		{users, "GET", "/api/users", false, ""},
		{users, "GET", "/api/users/42/extra", false, ""},
		{users, "GET", "/api/Users/42", true, "42"}, // literals match in any case
		{users, "GET", "/API/USERS/Ab", true, "Ab"}, // the record id keeps its case
		{users, "GET", "", false, ""},
		{reviews, "GET", "/api/items/7/reviews", true, "7"},
		{reviews, "GET", "/api/items/7/other", false, ""},
		{any, "POST", "/api/lookup", true, ""},
		{any, "DELETE", "/api/lookup/", true, ""},
		{pages, "GET", "/page-01", true, "page-01"},
		{pages, "GET", "/ecp/Current/x.application", true, "ecp/Current/x.application"},
		{pages, "GET", "//a/b/", true, "a/b"},
		{pages, "GET", "/", true, ""}, // the home page: no segments
		{pages, "GET", "", true, ""},
		{docs, "GET", "/docs/a/b", true, "a/b"},
		{docs, "GET", "/docs", true, ""},
		{docs, "GET", "/docs/", true, ""},
		{docs, "GET", "/doc/a", false, ""},
	}
	for _, tt := range tests {
		val, ok := tt.r.match(tt.method, tt.path, 0)
		if ok != tt.ok || val != tt.val {
			t.Errorf("%s matching %s %q = (%q, %v), want (%q, %v)", tt.r, tt.method, tt.path, val, ok, tt.val, tt.ok)
		}
	}
}

func FuzzRouteMatch(f *testing.F) {
	f.Add("GET /api/users/{id}", "GET", "/api/users/1")
	f.Add("GET /a/{x}/b/{y}", "GET", "//a/1//b/2/")
	f.Add("* /", "PUT", "/")
	f.Fuzz(func(t *testing.T, tmpl, method, path string) {
		r, err := ParseRoute(tmpl)
		if err != nil {
			return
		}
		for want := -1; want < len(r.Params); want++ {
			val, ok := r.match(method, path, want)
			if !ok && val != "" {
				t.Fatalf("no match but value %q", val)
			}
			if ok && want >= 0 && (val == "" || strings.Contains(val, "/")) {
				t.Fatalf("match of %q on %q gave parameter %q", tmpl, path, val)
			}
		}
	})
}

func TestRouteRestrictAndCase(t *testing.T) {
	r, _ := ParseRoute("GET /api/users/{id}")
	if err := r.Restrict([]string{"GET", "PUT"}); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]bool{"GET": true, "HEAD": true, "PUT": true, "POST": false, "DELETE": false} {
		if _, ok := r.match(m, "/api/users/1", 0); ok != want {
			t.Errorf("restricted to GET, PUT: %s matched %v", m, ok)
		}
	}
	if err := r.Restrict([]string{"FETCH"}); err == nil {
		t.Error("an unknown method was accepted")
	}
	if err := r.Restrict([]string{"*"}); err == nil {
		t.Error("* was accepted in a methods list")
	}
	r.Restrict(nil)
	if _, ok := r.match("PATCH", "/api/users/1", 0); !ok {
		t.Error("an empty list did not lift the restriction")
	}
	r.CaseSensitive(true)
	if _, ok := r.match("GET", "/API/users/1", 0); ok {
		t.Error("case-sensitive route matched /API/users/1")
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"/api/users/7":            "/api/users/7",
		"//api//users/7/":         "//api//users/7/", // empty segments are matching's business
		"/api/%75sers/7":          "/api/users/7",
		"/api/%2575sers/7":        "/api/users/7",
		"/api%2Fusers%2F7":        "/api/users/7",
		"/api/./users/x/../7":     "/api/users/7",
		"/../../api/users/7":      "/api/users/7",
		"/api/users/7/.":          "/api/users/7",
		`/api\users\7`:            "/api/users/7",
		"/api;x=1/users;jsid=2/7": "/api/users/7",
		"/api/users/7;.json":      "/api/users/7",
		"/a/100%":                 "/a/100%",
		"/a/%zz/%4":               "/a/%zz/%4",
		"/a/%2e%2e/api/users/7":   "/api/users/7",
		"":                        "",
	} {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { NormalizePath("/api/users/42/") }); n != 0 {
		t.Errorf("a plain path allocated %v times", n)
	}
}

// Evasions by spelling: every way of writing /api/users/7 that an upstream
// serves as that record is the record.
func TestEvasionPathSpelling(t *testing.T) {
	c, err := NewCatalog(Spec{Routes: []RouteSpec{{Route: "GET /api/users/{id}", Entity: "user"}}}, keyed.New([]byte("0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	plain := c.Match("GET", "/api/users/7")
	for _, p := range []string{"/API/USERS/7", "/Api/Users/7", "/api/%75sers/7", "/api/users/./7", "/x/../api/users/7",
		`/api\users\7`, "/api;a=b/users/7", "/api/users/7;x", "//api//users//7//", "/api/users/%37"} {
		m := c.Match("GET", p)
		if !m.Matched() || m.path != plain.path {
			t.Errorf("%s: matched %v, records %v; want those of /api/users/7", p, m.Matched(), m.path[:m.np])
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/api/users/7", "/a/%2e%2e/b", `/a\b;c/./d/../e`, "%%%", "/%25252e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := NormalizePath(p)
		if strings.ContainsAny(n, `\;`) && !strings.Contains(n, "%") {
			t.Fatalf("%q -> %q keeps a backslash or ;", p, n)
		}
		if hasDotSegment(n) && !strings.Contains(p, "%") {
			t.Fatalf("%q -> %q keeps a dot segment", p, n)
		}
		if len(n) > len(p)+1 {
			t.Fatalf("%q grew to %q", p, n)
		}
	})
}

// Matching runs on every request: a {rest...} value is a substring of the
// path, never a copy.
func TestRouteMatchDoesNotAllocate(t *testing.T) {
	pages, _ := ParseRoute("GET /{page...}")
	users, _ := ParseRoute("GET /api/users/{id}")
	if n := testing.AllocsPerRun(100, func() {
		pages.match("GET", "/a/b/c/", 0)
		users.match("GET", "/api/users/42", 0)
	}); n != 0 {
		t.Errorf("%v allocations a match", n)
	}
}

// A page route that leaves assets out: patterns without a slash match the
// last segment, with one the whole path; * never crosses a slash.
func TestCatalogExclude(t *testing.T) {
	c, err := NewCatalog(Spec{Routes: []RouteSpec{{Route: "GET /{page...}", Entity: "page", Exclude: []string{"*.png", "*.css", "/static/*", "favicon.ico"}}}},
		keyed.New([]byte("0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"/about": true, "/u/alice": true, "/img/logo.png": false, "/a/b/site.css": false, "/static/x.js": false,
		"/static/js/x.js": true, "/favicon.ico": false, "/png": true,
	} {
		m := c.Match("GET", p)
		if m.Matched() != want {
			t.Errorf("%s: matched %v, want %v", p, m.Matched(), want)
		}
	}
	if _, err := NewCatalog(Spec{Routes: []RouteSpec{{Route: "GET /{p}", Entity: "page", Exclude: []string{"[bad"}}}}, keyed.New([]byte("0123456789abcdef"))); err == nil {
		t.Error("a malformed pattern was accepted")
	}
}
