package detect

import (
	"slices"
	"strings"
	"testing"
)

func namesOf(n *Names) []int {
	var ids []int
	for id := 1; id <= 256; id++ {
		if n.Has(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestNameScanner(t *testing.T) {
	for _, tt := range []struct {
		name, page string
		want       []int // PathIDs
	}{
		{"links", `<a href="/items/12">x</a><a href='/items/300'>y</a>`, []int{1 + 12, 1 + 300&0xff}},
		{"a widget's attribute", `<div data-src="/api/items/7/reviews"></div>`, []int{8}},
		{"absolute and scheme-relative URLs, queries, fragments", `<a href="https://shop.example/items/20?ref=home#top"></a><img src="//cdn.example/img/21.jpg"><a href="http://x/items/22#r">`, []int{21, 23}},
		{"a script's JSON", `<script>var rec = {"items":["/items/30","/items/31"]};</script>`, []int{31, 32}},
		{"an apostrophe in text opens no value", `<p>Don't miss</p><a href="/items/40">`, []int{41}},
		{"values that are no paths", `<a class="btn" title="12/05/2026" href="#40">`, nil},
		{"a relative path", `<a href="items/50">`, nil},
		{"the page's own item", `<link rel="canonical" href="/items/60">`, []int{61}},
		{"a value past maxNameValue", `<a href="/items/1` + strings.Repeat("0", maxNameValue) + `"><a href="/items/70">`, []int{71}},
		{"an unclosed quote at the end", `<a href="/items/80`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, and a byte at a time: a value split between pieces.
			for _, step := range []int{len(tt.page), 1} {
				var s NameScanner
				for i := 0; i < len(tt.page); i += step {
					s.Write([]byte(tt.page[i:min(i+step, len(tt.page))]))
				}
				if got := namesOf(&s.Names); !slices.Equal(got, tt.want) {
					t.Errorf("pieces of %d: names %v, want %v", step, got, tt.want)
				}
			}
		})
	}
}

// A page is read up to NameScanLimit: what it names past that is not
// seen.
func TestNameScannerStopsAtItsLimit(t *testing.T) {
	var s NameScanner
	s.Write([]byte(`<a href="/items/1">`))
	s.Write(make([]byte, NameScanLimit))
	if !s.Done() {
		t.Fatal("not done past the limit")
	}
	s.Write([]byte(`<a href="/items/2">`))
	if got := namesOf(&s.Names); !slices.Equal(got, []int{2}) {
		t.Fatalf("names %v, want [2]", got)
	}
}

func TestNamesSet(t *testing.T) {
	var n Names
	if !n.Empty() {
		t.Fatal("a new set is not empty")
	}
	for _, id := range []int{0, 257, -1} {
		n.Add(id)
		if n.Has(id) || !n.Empty() {
			t.Fatalf("item %d, out of range, was added", id)
		}
	}
	for _, id := range []int{1, 64, 65, 128, 256} {
		n.Add(id)
	}
	if got := namesOf(&n); !slices.Equal(got, []int{1, 64, 65, 128, 256}) || n.Count() != 5 {
		t.Fatalf("names %v (%d), want [1 64 65 128 256]", got, n.Count())
	}
}

// A hostile page cannot crash the scan, grow it past its bounds, or name
// an item PathID does not give.
func FuzzNameScanner(f *testing.F) {
	f.Add([]byte(`<a href="/items/12">`), 3)
	f.Add([]byte(`'"//x/a/1?"'https://h/9#`), 1)
	f.Fuzz(func(t *testing.T, page []byte, step int) {
		step = max(step%64, 1)
		var s NameScanner
		for i := 0; i < len(page); i += step {
			s.Write(page[i:min(i+step, len(page))])
		}
		if cap(s.val) > 2*maxNameValue+64 {
			t.Fatalf("the open value holds %d bytes", cap(s.val))
		}
		for _, id := range namesOf(&s.Names) {
			if !strings.Contains(string(page), "/") || id < 1 || id > 256 {
				t.Fatalf("named %d from a page without a path", id)
			}
		}
	})
}

// What reading a served page for its names costs: a 100 KB page of the
// demo shop's links and attributes, in 4 KiB pieces as a body streams.
func BenchmarkNameScanner(b *testing.B) {
	var page strings.Builder
	for i := 0; page.Len() < 100<<10; i++ {
		page.WriteString(`<li class="item card"><a href="/items/` + strings.Repeat("1", 1+i%5) + `" title="Don't miss it">Soft Tea Set</a> <img src="/static/img/` + strings.Repeat("7", 1+i%3) + `.webp" alt="a tea set"> ¥12.50</li>` + "\n")
	}
	p := []byte(page.String())
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		var s NameScanner
		for i := 0; i < len(p); i += 4096 {
			s.Write(p[i:min(i+4096, len(p))])
		}
	}
}
