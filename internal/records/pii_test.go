package records

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/keyed"
)

var testDomains = [numKinds]uint64{11, 22, 33, 44}

func newTestScanner() (*Scanner, *keyed.Hasher) {
	h := keyed.New([]byte("test-secret-0123456789"))
	return NewScanner([]Kind{Phone, Email, CNID, BankCard}, []string{"CN"}, h, testDomains), h
}

type hit struct {
	kind  Kind
	value string // normalised
}

func TestScanner(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []hit
	}{
		{"cn mobile in json", `{"phone":"13812345678"}`, []hit{{Phone, "+8613812345678"}}},
		{"cn mobile as number", `{"phone":13812345678}`, []hit{{Phone, "+8613812345678"}}},
		{"dashed mobile is the same record", `138-1234-5678`, []hit{{Phone, "+8613812345678"}}},
		{"international with spaces", `tel: +86 138 1234 5678.`, []hit{{Phone, "+8613812345678"}}},
		{"other country with +", `call +1 650 253 0000 now`, []hit{{Phone, "+16502530000"}}},
		{"fixed line with trunk prefix", `"010-12345678"`, []hit{{Phone, "+861012345678"}}},
		{"invalid mobile prefix", `12345678901`, nil},
		{"ten digits", `1381234567`, nil},
		{"inside a word", `abc13812345678 x13812345678y`, nil},
		{"decimal", `3.13812345678 13812345678.5`, nil},
		{"ms timestamp", `"ts":1432111234567`, nil},
		{"long order id", `"order":"20150517123456789012"`, nil},
		{"hex id", `"id":"5f13812345678a"`, nil},
		{"resident id", `"idno":"11010519491231002X"`, []hit{{CNID, "11010519491231002X"}}},
		{"resident id lower x", `11010519491231002x`, []hit{{CNID, "11010519491231002X"}}},
		{"resident id bad check", `110105194912310021`, nil},
		{"resident id bad date", `11010519491331002X`, nil},
		{"visa", `card 4111111111111111 ok`, []hit{{BankCard, "4111111111111111"}}},
		{"visa dashed", `4111-1111-1111-1111`, []hit{{BankCard, "4111111111111111"}}},
		{"unionpay", `"6200000000000005"`, []hit{{BankCard, "6200000000000005"}}},
		{"amex", `378282246310005`, []hit{{BankCard, "378282246310005"}}},
		{"luhn but no issuer", `1234567812345670`, nil},
		{"issuer but bad luhn", `4111111111111112`, nil},
		{"email", `"e":"Zhang.San@Example.COM"`, []hit{{Email, "zhang.san@example.com"}}},
		{"email with plus", `<a+b@mail.qq.com>`, []hit{{Email, "a+b@mail.qq.com"}}},
		{"not emails", `a@b @example.com foo@bar x@1.2 user@.com user@host..com`, nil},
		{"several", `{"a":"13912345678","b":"someone@x.org","c":"13912345678"}`, []hit{{Phone, "+8613912345678"}, {Email, "someone@x.org"}, {Phone, "+8613912345678"}}},
		{"empty", ``, nil},
		{"lone plus", `+ +x 1+2`, nil},
	}
	s, h := newTestScanner()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, want []string
			s.Scan([]byte(tt.in), func(k Kind, hash uint64) { got = append(got, fmt.Sprintf("%s:%x", k, hash)) })
			for _, w := range tt.want {
				want = append(want, fmt.Sprintf("%s:%x", w.kind, h.String(testDomains[w.kind], w.value)))
			}
			if !slices.Equal(got, want) {
				t.Errorf("Scan(%q)\n got  %v\n want %v (%v)", tt.in, got, want, tt.want)
			}
		})
	}
}

func TestScannerCacheKeepsNoRawNumbers(t *testing.T) {
	s, _ := newTestScanner()
	s.Scan([]byte(`13812345678 13912345678 +16502530000`), func(Kind, uint64) {})
	dump := fmt.Sprintf("%v", s.cache[0].m)
	for i := range s.cache {
		dump += fmt.Sprintf("%v", s.cache[i].m)
	}
	for _, raw := range []string{"13812345678", "13912345678", "6502530000"} {
		if strings.Contains(dump, raw) {
			t.Fatalf("phone cache holds raw number %s", raw)
		}
	}
}

func TestScannerCacheIsBounded(t *testing.T) {
	s, _ := newTestScanner()
	s.cacheCap = 256
	var b strings.Builder
	for i := 0; i < 16*s.cacheCap+5000; i++ {
		fmt.Fprintf(&b, "139%08d ", i)
	}
	n := 0
	s.Scan([]byte(b.String()), func(Kind, uint64) { n++ })
	if n == 0 {
		t.Fatal("no phones found")
	}
	for i := range s.cache {
		if len(s.cache[i].m) > s.cacheCap {
			t.Fatalf("shard %d holds %d > %d", i, len(s.cache[i].m), s.cacheCap)
		}
	}
}

func TestValidCNIDCheckDigit(t *testing.T) {
	// Every check character is right for exactly one of the 11 possibilities.
	base := "11010519491231002"
	n := 0
	for _, c := range "0123456789X" {
		if ValidCNID([]byte(base + string(c))) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d check characters accepted, want 1", n)
	}
}

// FuzzScanner: any bytes, no panic, and every hit is one of the four kinds.
func FuzzScanner(f *testing.F) {
	f.Add([]byte(`{"phone":"13812345678","id":"11010519491231002X","card":"4111111111111111","e":"a@b.cn"}`))
	f.Add([]byte(`+86 138 1234 5678 +-+ 1-2-3 @@. x@y.zz`))
	f.Add([]byte("\x00\xff+9\xff"))
	s, _ := newTestScanner()
	f.Fuzz(func(t *testing.T, b []byte) {
		s.Scan(b, func(k Kind, h uint64) {
			if k >= numKinds {
				t.Fatalf("bad kind %d", k)
			}
		})
	})
}

// A lenient scanner (for tracing) hashes every valid number exactly as the
// validating one did when it was served.
func TestLenientScannerHashesAgree(t *testing.T) {
	h := keyed.New([]byte("secret-0123456789"))
	all := []Kind{Phone, Email, CNID, BankCard}
	strict := NewScanner(all, []string{"CN"}, h, [4]uint64{1, 2, 3, 4})
	lenient := NewScanner(all, []string{"CN"}, h, [4]uint64{1, 2, 3, 4}).Lenient()
	for _, v := range []string{"13912345678", "+86 139 1234 5678", "+8613912345678", "15800001111", "+1 415 555 2671", "010-12345678"} {
		var a, b []uint64
		strict.Scan([]byte(v), func(_ Kind, x uint64) { a = append(a, x) })
		lenient.Scan([]byte(v), func(_ Kind, x uint64) { b = append(b, x) })
		if len(a) != 1 || len(b) != 1 || a[0] != b[0] {
			t.Errorf("%q: strict %v, lenient %v", v, a, b)
		}
	}
}
