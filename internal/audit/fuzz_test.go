package audit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"es://10.0.3.7:9200", "mysql://root:pw@db-2/shop", "rediss://[::1]:6380", "postgres://%zz", "x://", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			return
		}
		if tg.Scheme == "" || tg.Host == "" {
			t.Fatalf("%q parsed to %+v", s, tg)
		}
		if tg.Password != "" && strings.Contains(tg.Name, ":"+tg.Password+"@") {
			t.Fatalf("%q: name %q shows the password", s, tg.Name)
		}
	})
}

// Flatten reads documents from servers under audit: hostile input.
func FuzzFlatten(f *testing.F) {
	for _, s := range []string{`{"a":{"b":[1,2,{"c":"13912345678"}]}}`, `[[[[[[[[[[[]]]]]]]]]]]`, `"x"`, `{"a":1e400}`, `{`} {
		f.Add([]byte(s))
	}
	cl := NewClassifier([]string{"CN"})
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := Flatten(b, 50)
		if err != nil {
			return
		}
		if len(kvs) > 50 {
			t.Fatalf("%d values, max 50", len(kvs))
		}
		c := NewCollection("fuzz", 10, true)
		cl.AddRow(&c, kvs)
		c.finish()
		for _, fl := range c.Fields {
			if fl.Example != "" && !utf8.ValidString(fl.Example) && utf8.ValidString(string(b)) {
				t.Fatalf("mask broke UTF-8: %q", fl.Example)
			}
		}
	})
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"13812345678", "a@b", "张伟", "", "@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := Mask(s)
		if strings.Contains(m, "@") {
			return // an email keeps its domain and first letter only
		}
		// At most seven runes of any value show: 138****5678.
		shown := 0
		for _, r := range []rune(m) {
			if r != '*' {
				shown++
			}
		}
		if shown > 7 && !strings.Contains(s, "*") {
			t.Fatalf("Mask(%q) = %q shows %d runes", s, m, shown)
		}
	})
}
