// Package ja4 computes the JA4 fingerprint of a TLS client
// (https://github.com/FoxIO-LLC/ja4, BSD 3-Clause) from what crypto/tls
// tells a server of the ClientHello. A script can copy a browser's
// headers; its TLS library's handshake it cannot as easily.
//
// Computed here rather than by a library: the Go implementations found
// (fingerproxy's, go-away's) parse the raw ClientHello off a wrapped
// connection, while crypto/tls already hands a server every field JA4
// reads (tls.ClientHelloInfo: versions, cipher suites, extensions in
// order, signature schemes, ALPN), so this is the fingerprint's own
// arithmetic and nothing else, checked against published fingerprints.
package ja4

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Hello is what JA4 reads of a ClientHello, as the client sent it.
type Hello struct {
	// Versions: the supported_versions extension, or the hello's legacy
	// version alone without it.
	Versions   []uint16
	Ciphers    []uint16
	Extensions []uint16 // in the order sent
	SigAlgs    []uint16 // signature_algorithms, in the order sent
	ALPN       []string
	QUIC       bool
}

// FromClientHello is the Hello crypto/tls saw.
func FromClientHello(h *tls.ClientHelloInfo) Hello {
	sig := make([]uint16, len(h.SignatureSchemes))
	for i, s := range h.SignatureSchemes {
		sig[i] = uint16(s)
	}
	return Hello{Versions: h.SupportedVersions, Ciphers: h.CipherSuites, Extensions: h.Extensions, SigAlgs: sig, ALPN: h.SupportedProtos}
}

// Of returns h's JA4, e.g. t13d1516h2_8daaf6152771_02713d6af862.
func Of(h Hello) string {
	ciphers := clean(h.Ciphers)
	exts := clean(h.Extensions)
	var b strings.Builder
	b.Grow(36)
	if h.QUIC {
		b.WriteByte('q')
	} else {
		b.WriteByte('t')
	}
	b.WriteString(version(clean(h.Versions)))
	if slices.Contains(exts, extSNI) {
		b.WriteByte('d')
	} else {
		b.WriteByte('i')
	}
	b.WriteString(count(len(ciphers)))
	b.WriteString(count(len(exts)))
	b.WriteString(alpn(h.ALPN))
	b.WriteByte('_')
	slices.Sort(ciphers)
	b.WriteString(hash12(hexList(ciphers), len(ciphers) == 0))
	b.WriteByte('_')
	// The server name and ALPN are left out of the hash: they are the
	// site's and the protocol's, not the client's.
	sorted := slices.DeleteFunc(slices.Clone(exts), func(e uint16) bool { return e == extSNI || e == extALPN })
	slices.Sort(sorted)
	s := hexList(sorted)
	if sig := clean(h.SigAlgs); len(sig) > 0 {
		s += "_" + hexList(sig)
	}
	b.WriteString(hash12(s, len(sorted) == 0))
	return b.String()
}

const (
	extSNI  = 0x0000
	extALPN = 0x0010
)

// grease: the reserved values (RFC 8701) a client sprinkles at random,
// which JA4 ignores.
func grease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func clean(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !grease(v) {
			out = append(out, v)
		}
	}
	return out
}

func version(vs []uint16) string {
	var top uint16
	for _, v := range vs {
		top = max(top, v)
	}
	switch top {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	}
	return "00"
}

func count(n int) string {
	n = min(n, 99)
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// alpn is the first and last character of the first ALPN value, or of
// its hex when either is not alphanumeric; 00 without one.
func alpn(protos []string) string {
	if len(protos) == 0 || protos[0] == "" {
		return "00"
	}
	p := protos[0]
	first, last := p[0], p[len(p)-1]
	if alnum(first) && alnum(last) {
		return string([]byte{first, last})
	}
	x := hex.EncodeToString([]byte(p))
	return string([]byte{x[0], x[len(x)-1]})
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func hexList(vs []uint16) string {
	var b strings.Builder
	b.Grow(5 * len(vs))
	const digits = "0123456789abcdef"
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(digits[v>>12])
		b.WriteByte(digits[v>>8&0xf])
		b.WriteByte(digits[v>>4&0xf])
		b.WriteByte(digits[v&0xf])
	}
	return b.String()
}

func hash12(s string, empty bool) string {
	if empty {
		return "000000000000"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
