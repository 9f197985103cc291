package records

import (
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestParseJSONPath(t *testing.T) {
	tests := []struct {
		in, gjson, err string
	}{
		{"$.reviews[*].user.id", "reviews.#.user.id", ""},
		{"$", "@this", ""},
		{"$[*].id", "#.id", ""},
		{"$['a.b'].c", `a\.b.c`, ""},
		{`$["x"][0]`, "x.0", ""},
		{"$.a[2].b", "a.2.b", ""},
		{"$.weird#name", `weird\#name`, ""},
		{"reviews", "", "must start with $"},
		{"$..id", "", "recursive descent"},
		{"$.a[?(@.x)]", "", "unsupported selector"},
		{"$.a[", "", "unclosed"},
		{"$.", "", "empty name"},
		{"$.*", "", ".* is not supported"},
		{"$[-1]", "", "unsupported selector"},
	}
	for _, tt := range tests {
		p, err := ParseJSONPath(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseJSONPath(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || p.path != tt.gjson {
			t.Errorf("ParseJSONPath(%q) = %v, %v; want gjson path %q", tt.in, p, err, tt.gjson)
		}
	}
}

func TestJSONPathEach(t *testing.T) {
	doc := `{"item":7,"reviews":[{"user":{"id":101,"nick":"a"}},{"user":{"id":"u-102"}},{"user":{}},{"user":{"id":null}},{"user":{"id":[103,104]}}],
	"nested":[[{"id":1},{"id":2}],[{"id":3}]], "a.b":{"c":"dot"}, "obj":{"id":{"deep":1}}}`
	tests := []struct {
		path string
		want []string
	}{
		{"$.reviews[*].user.id", []string{"101", "u-102", "103", "104"}},
		{"$.item", []string{"7"}},
		{"$.reviews[1].user.id", []string{"u-102"}},
		{"$.nested[*][*].id", []string{"1", "2", "3"}},
		{"$['a.b'].c", []string{"dot"}},
		{"$.obj.id", nil}, // objects are not identifiers
		{"$.missing[*].id", nil},
	}
	for _, tt := range tests {
		p, err := ParseJSONPath(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		p.Each([]byte(doc), func(v string) { got = append(got, v) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func FuzzJSONPath(f *testing.F) {
	f.Add("$.reviews[*].user.id", `{"reviews":[{"user":{"id":1}}]}`)
	f.Add("$[*]", `[1,2,[3,[4]]]`)
	f.Add("$['x'][0]", `{"x":["a"]}`)
	f.Fuzz(func(t *testing.T, path, doc string) {
		p, err := ParseJSONPath(path)
		if err != nil {
			return
		}
		if !gjson.Valid(doc) {
			return
		}
		p.Each([]byte(doc), func(v string) {
			if v == "" {
				t.Fatalf("empty identifier from %q on %q", path, doc)
			}
		})
	})
}

func TestEachSpan(t *testing.T) {
	doc := []byte(`{"reviews":[{"user":{"id":123,"nick":"a"}},{"user":{"id":"u-45"}},{"user":{"id":"e\"x"}}]}`)
	p, err := ParseJSONPath("$.reviews[*].user.id")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	p.EachSpan(doc, func(v string, start, end int) {
		if start < 0 {
			got = append(got, v+"@?")
			return
		}
		if string(doc[start:end]) != v {
			t.Errorf("span of %q holds %q", v, doc[start:end])
		}
		got = append(got, v)
	})
	if strings.Join(got, ",") != `123,u-45,e"x@?` {
		t.Fatalf("spans: %v", got)
	}
}
