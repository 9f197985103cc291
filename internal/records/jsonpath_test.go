package records

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/leakguard/leakguard/internal/keyed"
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
	f.Add("$.id", "{\"id\":1}\n{\"id\":\"b\"}\n")
	f.Fuzz(func(t *testing.T, path, doc string) {
		p, err := ParseJSONPath(path)
		if err != nil {
			return
		}
		// any body, broken ones too, gives no empty identifier; in a
		// valid document, or NDJSON of valid lines, every span is where
		// its value is (gjson's positions in broken JSON are not)
		b := []byte(doc)
		valid := gjson.Valid(doc)
		if !valid && ndjson(b) {
			valid = true
			for _, line := range strings.Split(doc, "\n") {
				valid = valid && (strings.TrimSpace(line) == "" || gjson.Valid(line))
			}
		}
		p.EachSpan(b, func(v string, start, end int) {
			if v == "" {
				t.Fatalf("empty identifier from %q on %q", path, doc)
			}
			if valid && start >= 0 && (start > end || end > len(b) || string(b[start:end]) != v) {
				t.Fatalf("%q on %q: span [%d,%d) for %q", path, doc, start, end, v)
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

// streamAll feeds doc to a stream of path in pieces of size n.
func streamAll(t testing.TB, path, doc string, n int) ([]string, *JSONStream) {
	p, err := ParseJSONPath(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	s := p.Stream(func(v string) { got = append(got, v) })
	for i := 0; i < len(doc); i += n {
		s.Write([]byte(doc[i:min(i+n, len(doc))]))
	}
	s.Close()
	return got, s
}

func TestJSONStreamMatchesEach(t *testing.T) {
	doc := `{"item":7,"reviews":[{"user":{"id":101,"nick":"a"}},{"user":{"id":"u-102"}},{"user":{}},{"user":{"id":null}},{"user":{"id":[103,[104]]}}],
	"nested":[[{"id":1},{"id":2}],[{"id":3}]], "a.b":{"c":"dot"}, "obj":{"id":{"deep":1}}, "esc":{"\u0069d":"x\"y\u00e9"}, "num":[1.5e3,-2,true,false]}`
	for _, path := range []string{"$.reviews[*].user.id", "$.item", "$.reviews[1].user.id", "$.nested[*][*].id", "$['a.b'].c",
		"$.obj.id", "$.missing[*].id", "$.esc.id", "$.num", "$.num[*]", "$.reviews.0.user.id", "$", "$.nested[1]"} {
		p, _ := ParseJSONPath(path)
		var want []string
		p.Each([]byte(doc), func(v string) { want = append(want, v) })
		for _, n := range []int{1, 2, 3, 7, len(doc)} {
			got, s := streamAll(t, path, doc, n)
			if !slices.Equal(got, want) {
				t.Errorf("%s in pieces of %d: %q, want %q", path, n, got, want)
			}
			if !s.Complete() {
				t.Errorf("%s: a valid document is not complete", path)
			}
		}
	}
}

func TestJSONStreamMalformedAndNDJSON(t *testing.T) {
	got, s := streamAll(t, "$.reviews[*].user.id", `{"reviews":[{"user":{"id":1, "phone":"1`, 5)
	if !slices.Equal(got, []string{"1"}) || s.Complete() || s.Failed() {
		t.Errorf("cut document: %q complete=%v failed=%v", got, s.Complete(), s.Failed())
	}
	got, s = streamAll(t, "$.id", `{"id":1} x {"id":2}`, 4)
	if !slices.Equal(got, []string{"1"}) || !s.Failed() {
		t.Errorf("garbage: %q failed=%v", got, s.Failed())
	}
	got, s = streamAll(t, "$.id", "{\"id\":1}\n{\"id\":2}\n", 3)
	if !slices.Equal(got, []string{"1", "2"}) || !s.Complete() {
		t.Errorf("NDJSON: %q complete=%v", got, s.Complete())
	}
	got, _ = streamAll(t, "$", "42", 1)
	if !slices.Equal(got, []string{"42"}) {
		t.Errorf("a bare number: %q", got)
	}
	deep := strings.Repeat("[", 5000)
	if _, s = streamAll(t, "$.a", deep, 100); !s.Failed() {
		t.Error("5000 nested arrays were held")
	}
}

// The stream never selects less than the whole-body extractor: a body
// streamed because it is large counts at least what it would when small.
func FuzzJSONStream(f *testing.F) {
	f.Add("$.reviews[*].user.id", `{"reviews":[{"user":{"id":1}},{"user":{"id":"a\"b"}}]}`, 3)
	f.Add("$[*]", `[1,2,[3,[4]],{"a":5}]`, 1)
	f.Add("$['x'][0]", `{"x":["a"],"x":["b"]}`, 2)
	f.Add("$.a.1", `{"a":[0,"one"],"b":{"1":2}}`, 5)
	f.Fuzz(func(t *testing.T, path, doc string, n int) {
		p, err := ParseJSONPath(path)
		if err != nil {
			return
		}
		n = int(uint(n)%64) + 1
		var got []string
		s := p.Stream(func(v string) {
			if v == "" {
				t.Fatalf("empty identifier from %q on %q", path, doc)
			}
			got = append(got, v)
		})
		for i := 0; i < len(doc); i += n {
			s.Write([]byte(doc[i:min(i+n, len(doc))]))
		}
		s.Close()
		if !gjson.Valid(doc) || strings.Count(doc, "[")+strings.Count(doc, "{") > 30 {
			return
		}
		if !s.Complete() {
			t.Fatalf("valid %q not complete", doc)
		}
		count := map[string]int{}
		for _, v := range got {
			count[v]++
		}
		p.Each([]byte(doc), func(v string) {
			if count[v] == 0 {
				t.Fatalf("%s on %q: Each found %q, the stream %q", path, doc, v, got)
			}
			count[v]--
		})
	})
}

// A body inspected piece by piece yields the records the whole body does,
// wherever the pieces are cut.
func TestBodyStreamMatchesBodyRecords(t *testing.T) {
	c, err := NewCatalog(Spec{Routes: []RouteSpec{{Route: "GET /r/{kind}", Entity: "user", Body: "$.reviews[*].user.id"}},
		PII: []string{"phone", "email", "cn_id", "bank_card"}, PhoneRegions: []string{"CN"}}, keyed.New([]byte("0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`{"reviews":[`)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, `{"user":{"id":%d,"phone":"1381234%04d","mail":"user.%d@example.com","note":"call +86 139-1234-%04d or 11010519491231002X"}},`, i, i, i, i)
	}
	b.WriteString(`{}]}`)
	doc := []byte(b.String())
	m := c.Match("GET", "/r/x")
	want, _ := c.BodyRecords(&m, doc, true, true, nil)
	sortFound(want)
	for _, n := range []int{1, 5, 13, 4096, len(doc)} {
		var got []Found
		emit := func(f Found) { got = append(got, f) }
		s, pii := c.BodyStream(&m, true, emit), c.PIIStream(emit)
		for i := 0; i < len(doc); i += n {
			s.Write(doc[i:min(i+n, len(doc))])
			pii.Write(doc[i:min(i+n, len(doc))])
		}
		if s.Close() != BodyOK {
			t.Errorf("pieces of %d: malformed", n)
		}
		pii.Close()
		sortFound(got)
		if !slices.Equal(got, want) {
			t.Errorf("pieces of %d: %d records, want %d", n, len(got), len(want))
		}
	}
	if len(want) < 800 {
		t.Fatalf("only %d records in the reference", len(want))
	}
}

func sortFound(f []Found) {
	slices.SortFunc(f, func(a, b Found) int {
		if a.Entity != b.Entity {
			return a.Entity - b.Entity
		}
		return cmp.Compare(a.Hash, b.Hash)
	})
}

// An NDJSON page under max_body_bytes was read as gjson reads it, its
// first document only: one line of ten counted (a red team, 2026-12-02).
// Each reads every line, as the streaming path does, with spans into the
// whole body; a document printed over several lines is one document.
func TestEachSpanReadsNDJSON(t *testing.T) {
	p, err := ParseJSONPath("$.reviews[*].user.id")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"ndjson", "{\"reviews\":[{\"user\":{\"id\":1}},{\"user\":{\"id\":\"u-2\"}}]}\n\n{\"reviews\":[{\"user\":{\"id\":3}}]}\r\n{\"reviews\":[{\"user\":{\"id\":\"u-4\"}}]}", []string{"1", "u-2", "3", "u-4"}},
		{"ndjson, trailing newline", "{\"reviews\":[{\"user\":{\"id\":1}}]}\n{\"reviews\":[{\"user\":{\"id\":2}}]}\n", []string{"1", "2"}},
		{"one document, one trailing newline", "{\"reviews\":[{\"user\":{\"id\":1}}]}\n", []string{"1"}},
		{"one document over several lines", "{\n  \"reviews\": [\n    {\"user\": {\"id\": 1}},\n    {\"user\": {\"id\": 2}}\n  ]\n}\n", []string{"1", "2"}},
	} {
		doc := []byte(tc.doc)
		var got []string
		p.EachSpan(doc, func(v string, start, end int) {
			if start >= 0 && string(doc[start:end]) != v {
				t.Errorf("%s: span of %q holds %q", tc.name, v, doc[start:end])
			}
			got = append(got, v)
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		want, _ := streamAll(t, "$.reviews[*].user.id", tc.doc, 7)
		if !slices.Equal(got, want) {
			t.Errorf("%s: Each %q, the streaming path %q", tc.name, got, want)
		}
	}
}
