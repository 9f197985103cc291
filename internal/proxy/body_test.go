package proxy

import (
	"slices"
	"strings"
	"testing"
)

func TestParseContentEncoding(t *testing.T) {
	for in, want := range map[string][]coding{
		"":                {},
		"gzip":            {codingGzip},
		"X-GZIP":          {codingGzip},
		" br ":            {codingBr},
		"identity":        {},
		"gzip, br":        {codingGzip, codingBr},
		"deflate,,zstd":   {codingDeflate, codingZstd},
		"compress":        nil,
		"gzip, compress":  nil,
		"gzip,gzip,gzip":  {codingGzip, codingGzip, codingGzip},
		"br,br,br,br":     nil, // more layers than any server stacks
		"gzip;q=1":        nil,
		"identity, gzip ": {codingGzip},
	} {
		got, ok := parseContentEncoding([]string{in})
		if ok != (want != nil) || (ok && !slices.Equal(got, want)) {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
}

func TestAcceptEncoding(t *testing.T) {
	for _, tc := range []struct {
		in       []string
		upstream string
		gzipOK   bool
	}{
		{nil, "identity", true}, // no header: anything goes to the client, identity is asked for
		{[]string{"gzip"}, "gzip", true},
		{[]string{"gzip;q=0, br"}, "br", false},
		{[]string{"br;q=0.5, gzip;q=0.8, zstd"}, "zstd, gzip, br", true},
		{[]string{"*"}, "zstd, br, gzip, deflate", true},
		{[]string{"*;q=0.1, gzip;q=0"}, "zstd, br, deflate", false},
		{[]string{"compress, identity"}, "identity", false},
		{[]string{"gzip;q=x"}, "identity", false},
		{[]string{"Gzip", "BR"}, "br, gzip", true},
	} {
		a := parseAcceptEncoding(tc.in)
		if got := a.upstream(); got != tc.upstream {
			t.Errorf("%q: upstream asked for %q, want %q", tc.in, got, tc.upstream)
		}
		if got := a.acceptsAll([]coding{codingGzip}); got != tc.gzipOK {
			t.Errorf("%q: takes gzip %v, want %v", tc.in, got, tc.gzipOK)
		}
	}
}

// Content-Encoding comes from the upstream and Accept-Encoding from any
// client: neither may panic, and the proxy asks upstream only for codings
// it decodes and the client takes.
func FuzzContentEncoding(f *testing.F) {
	for _, s := range []string{"gzip", "br, gzip", "x-gzip,,identity", "gzip;q=0.5, *;q=0", "ZSTD", "\x00,", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cs, ok := parseContentEncoding([]string{v})
		if ok && len(cs) > maxCodingLayers {
			t.Fatalf("%q: %d layers", v, len(cs))
		}
		a := parseAcceptEncoding([]string{v})
		up := a.upstream()
		if up == "identity" {
			return
		}
		for _, name := range strings.Split(up, ", ") {
			c, ok := codingByName(name)
			if !ok {
				t.Fatalf("%q: asked upstream for %q", v, up)
			}
			if !a.accepts(c) {
				t.Fatalf("%q: asked upstream for %q, which the client refuses", v, up)
			}
		}
		if strings.Count(up, ",") >= len(decodable) {
			t.Fatalf("%q: %q repeats a coding", v, up)
		}
	})
}
