package ja4

import (
	"strconv"
	"strings"
	"testing"
)

func hexes(t *testing.T, s string) []uint16 {
	t.Helper()
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(f, 16, 16)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, uint16(v))
	}
	return out
}

// chrome is a Chrome 143 ClientHello in the order sent, with its JA4, as
// published by browserleaks.com (ja4 and ja4_ro).
func chrome(t *testing.T) Hello {
	return Hello{
		Versions:   []uint16{0x0304, 0x0303},
		Ciphers:    hexes(t, "1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035"),
		Extensions: hexes(t, "002d,0033,0010,fe0d,0017,44cd,0000,000b,000a,002b,ff01,0023,0012,0005,000d,001b"),
		SigAlgs:    hexes(t, "0403,0804,0401,0503,0805,0501,0806,0601"),
		ALPN:       []string{"h2", "http/1.1"},
	}
}

func TestOf(t *testing.T) {
	greased := chrome(t)
	// GREASE values are random at each connection and ignored.
	greased.Versions = append([]uint16{0x3a3a}, greased.Versions...)
	greased.Ciphers = append([]uint16{0x9a9a}, greased.Ciphers...)
	greased.Extensions = append([]uint16{0xdada}, append(greased.Extensions, 0x1a1a)...)
	// Chrome permutes its extensions at each connection: JA4 sorts them.
	permuted := chrome(t)
	e := permuted.Extensions
	e[0], e[5], e[9] = e[9], e[0], e[5]
	noSNI := chrome(t)
	noSNI.Extensions = noSNI.Extensions[:6:6]
	noSNI.Extensions = append(noSNI.Extensions, chrome(t).Extensions[7:]...)
	for _, tc := range []struct {
		name string
		h    Hello
		want string
	}{
		{"chrome 143", chrome(t), "t13d1516h2_8daaf6152771_d8a2da3f94cd"},
		{"with GREASE", greased, "t13d1516h2_8daaf6152771_d8a2da3f94cd"},
		{"extensions permuted", permuted, "t13d1516h2_8daaf6152771_d8a2da3f94cd"},
		// without SNI, one extension fewer and i for d; the hash leaves
		// SNI out, so it stays
		{"no SNI", noSNI, "t13i1515h2_8daaf6152771_d8a2da3f94cd"},
		{"TLS 1.2, no ALPN", Hello{Versions: []uint16{0x0303}, Ciphers: []uint16{0xc02f}, Extensions: []uint16{0x0000}}, "t12d010100_" + hash12("c02f", false) + "_000000000000"},
		{"nothing", Hello{}, "t00i000000_000000000000_000000000000"},
		{"ALPN not alphanumeric", Hello{ALPN: []string{"\x01h2\xff"}}, "t00i00000f_000000000000_000000000000"},
	} {
		if got := Of(tc.h); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Whatever a client puts in its hello, the fingerprint has JA4's shape:
// a 10-character prefix and two 12-character hashes.
func FuzzOf(f *testing.F) {
	f.Add([]byte{0x13, 0x01, 0x0a, 0x0a, 0x00, 0x00}, "h2", uint8(3))
	f.Add([]byte{}, "", uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, alpn string, split uint8) {
		var vs []uint16
		for i := 0; i+1 < len(raw); i += 2 {
			vs = append(vs, uint16(raw[i])<<8|uint16(raw[i+1]))
		}
		k := min(int(split), len(vs))
		h := Hello{Versions: vs[:k], Ciphers: vs, Extensions: vs[k:], SigAlgs: vs[:k], ALPN: []string{alpn}}
		got := Of(h)
		if len(got) != 36 || got[10] != '_' || got[23] != '_' {
			t.Fatalf("%q", got)
		}
	})
}
