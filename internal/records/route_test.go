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
		{users, "POST", "/api/users/42", false, ""},
		{users, "GET", "/api/users/42/", true, "42"},  // trailing slash is the same record
		{users, "GET", "//api//users/42", true, "42"}, // so are doubled slashes
		{users, "GET", "/api/users", false, ""},
		{users, "GET", "/api/users/42/extra", false, ""},
		{users, "GET", "/api/Users/42", false, ""},
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
