// Package canary makes synthetic personal data that is checkable as ours:
// each value is derived from a secret, the actor it is served to and what
// it replaces, so the same actor always gets the same fake for the same
// record, and different actors get different ones. They pass format
// validation (libphonenumber, resident-ID check digits, Luhn) but are not
// anyone's.
package canary

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Maker derives decoys.
type Maker struct {
	secret []byte
	sc     *records.Scanner
}

// NewMaker returns a Maker keyed by secret (at least 16 bytes) that finds
// the values to replace with sc (every kind on).
func NewMaker(secret []byte, sc *records.Scanner) *Maker {
	return &Maker{secret: append([]byte(nil), secret...), sc: sc}
}

// stream is a deterministic byte source for one decoy.
type stream struct {
	buf [32]byte
	n   int
	key []byte
	ctr uint32
	in  []byte
}

func (m *Maker) stream(kind records.Kind, actor identity.Key, original uint64) *stream {
	in := make([]byte, 0, 32)
	in = append(in, byte(kind), byte(actor.Kind))
	in = binary.LittleEndian.AppendUint64(in, actor.Hash)
	in = binary.LittleEndian.AppendUint64(in, original)
	s := &stream{key: m.secret, in: in, n: 32}
	return s
}

func (s *stream) next() byte {
	if s.n == len(s.buf) {
		mac := hmac.New(sha256.New, s.key)
		mac.Write(s.in)
		var c [4]byte
		binary.LittleEndian.PutUint32(c[:], s.ctr)
		mac.Write(c[:])
		s.ctr++
		copy(s.buf[:], mac.Sum(nil))
		s.n = 0
	}
	b := s.buf[s.n]
	s.n++
	return b
}

func (s *stream) digit() byte  { return '0' + s.next()%10 }
func (s *stream) letter() byte { return 'a' + s.next()%26 }

// CN mobile prefixes in service (China Mobile, Unicom, Telecom).
var mobilePrefixes = []string{"134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159",
	"178", "182", "183", "187", "188", "130", "131", "132", "155", "156", "166", "175", "176", "185", "186",
	"133", "153", "173", "177", "180", "181", "189", "191", "199"}

// Area codes of real county-level divisions (Beijing, Shanghai, Hangzhou, Shenzhen, ...).
var areaCodes = []string{"110101", "110105", "310101", "310115", "330106", "330110", "440305", "440106", "510104", "420106"}

// Replace returns a decoy for the value v (of kind k, whose record hash is
// original) as served to actor: same length and layout (separators and a
// +86 prefix kept), a different, valid value.
func (m *Maker) Replace(k records.Kind, v []byte, original uint64, actor identity.Key) []byte {
	s := m.stream(k, actor, original)
	out := append([]byte(nil), v...)
	switch k {
	case records.Email:
		at := len(out) - 1
		for at >= 0 && out[at] != '@' {
			at--
		}
		for i := 0; i < at; i++ {
			if isAlnum(out[i]) {
				out[i] = s.letter()
			}
		}
	case records.Phone:
		var pos []int // positions of digits
		for i, c := range out {
			if c >= '0' && c <= '9' {
				pos = append(pos, i)
			}
		}
		// Keep a country code (+86 ...) and a national-format 1xx mobile's
		// shape; replace the subscriber part.
		start := 0
		if len(pos) == 13 && out[pos[0]] == '8' && out[pos[1]] == '6' {
			start = 2
		}
		if len(pos)-start == 11 && out[pos[start]] == '1' {
			p := mobilePrefixes[int(s.next())%len(mobilePrefixes)]
			for j := 0; j < 3; j++ {
				out[pos[start+j]] = p[j]
			}
			start += 3
		} else if len(pos) > 8 {
			start = len(pos) - 8 // another numbering plan: keep its prefix, replace the last 8 digits
		}
		for _, i := range pos[start:] {
			out[i] = s.digit()
		}
	case records.CNID:
		if len(out) != 18 {
			break
		}
		id := make([]byte, 0, 18)
		id = append(id, areaCodes[int(s.next())%len(areaCodes)]...)
		year := 1960 + int(s.next())%45
		month := 1 + int(s.next())%12
		day := 1 + int(s.next())%28
		id = append(id, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10),
			byte('0'+month/10), byte('0'+month%10), byte('0'+day/10), byte('0'+day%10))
		for len(id) < 17 {
			id = append(id, s.digit())
		}
		id = append(id, records.CNIDCheck(id))
		copy(out, id)
	case records.BankCard:
		var pos []int
		for i, c := range out {
			if c >= '0' && c <= '9' {
				pos = append(pos, i)
			}
		}
		if len(pos) < 12 {
			break
		}
		// Keep the issuer (first 6 digits, not personal), replace the
		// account digits, fix the Luhn check digit.
		for _, i := range pos[6 : len(pos)-1] {
			out[i] = s.digit()
		}
		digits := make([]byte, 0, len(pos))
		for _, i := range pos[:len(pos)-1] {
			digits = append(digits, out[i])
		}
		out[pos[len(pos)-1]] = records.LuhnDigit(digits)
	}
	return out
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ReplaceID returns a decoy for a record identifier as served to actor:
// same length, digits for digits (no leading zero), letters for letters.
// A decoy never equals the real identifier: short ids collide by chance
// (1 in 9,000 for four digits), and a decoy that happens to be the real id
// would hand the scraper the record it was denied.
func (m *Maker) ReplaceID(v []byte, actor identity.Key) []byte {
	var h uint64
	for _, c := range v {
		h = h*1099511628211 ^ uint64(c)
	}
	for try := uint64(0); try < 4; try++ {
		if out := m.replaceID(v, actor, h+try); !bytes.Equal(out, v) {
			return out
		}
	}
	// Four draws all equal: v has one or no alphanumerics. Step the last one.
	out := append([]byte(nil), v...)
	for i := len(out) - 1; i >= 0; i-- {
		switch c := out[i]; {
		case c >= '0' && c <= '9':
			out[i] = '0' + (c-'0'+1)%10
			if i == 0 && out[i] == '0' {
				out[i] = '1'
			}
			return out
		case c >= 'a' && c <= 'z':
			out[i] = 'a' + (c-'a'+1)%26
			return out
		case c >= 'A' && c <= 'Z':
			out[i] = 'A' + (c-'A'+1)%26
			return out
		}
	}
	return out
}

func (m *Maker) replaceID(v []byte, actor identity.Key, h uint64) []byte {
	s := m.stream(records.Kind(255), actor, h)
	out := append([]byte(nil), v...)
	for i, c := range out {
		switch {
		case c >= '0' && c <= '9':
			d := s.digit()
			if i == 0 && d == '0' {
				d = '1' + s.next()%9
			}
			out[i] = d
		case c >= 'a' && c <= 'z':
			out[i] = s.letter()
		case c >= 'A' && c <= 'Z':
			out[i] = s.letter() - 'a' + 'A'
		}
	}
	return out
}

// Scan finds the personal values in b as the tracer will: the kind and
// keyed hash of each.
func (m *Maker) Scan(b []byte, fn func(k records.Kind, hash uint64)) { m.sc.Scan(b, fn) }

// Body replaces every personal value the scanner finds in body, in place
// (decoys have the same length, so JSON stays valid and lengths hold).
// It returns how many values were replaced.
func (m *Maker) Body(body []byte, actor identity.Key) int {
	type span struct {
		k          records.Kind
		h          uint64
		start, end int
	}
	var spans []span
	m.sc.ScanSpans(body, func(k records.Kind, h uint64, start, end int) { spans = append(spans, span{k, h, start, end}) })
	for _, sp := range spans {
		copy(body[sp.start:sp.end], m.Replace(sp.k, body[sp.start:sp.end], sp.h, actor))
	}
	return len(spans)
}
