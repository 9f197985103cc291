package records

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/keyed"
)

func piiCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := NewCatalog(Spec{PII: []string{"phone", "email", "cn_id", "bank_card"}, PhoneRegions: []string{"CN"}},
		keyed.New([]byte("0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// streamPII feeds doc to a PIIStream in pieces of n bytes.
func streamPII(c *Catalog, doc []byte, n int) (got []Found, unchecked int) {
	s := c.PIIStream(func(f Found) { got = append(got, f) })
	for i := 0; i < len(doc); i += n {
		s.Write(doc[i:min(i+n, len(doc))])
	}
	unchecked = s.Close()
	sortFound(got)
	return got, unchecked
}

// Under its allowance, a body scanned piece by piece yields what Scan
// finds in the whole, wherever the pieces are cut.
func TestPIIStreamMatchesScan(t *testing.T) {
	c := piiCatalog(t)
	var b strings.Builder
	b.WriteString(`{"reviews":[`)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, `{"user":{"id":%d,"phone":"1381234%04d","mail":"user.%d@example.com","note":"call +86 139-1234-%04d or 11010519491231002X or 010-1234%04d"}},`, i, i, i, i, i)
	}
	b.WriteString(`{}]}`)
	b.WriteString(strings.Repeat("x", 70<<10) + " 13912345678 " + strings.Repeat("y", 10)) // past maxCarry without a separator
	doc := []byte(b.String())
	var want []Found
	c.scanner.Scan(doc, func(k Kind, h uint64) { want = append(want, Found{c.piiEnt[k], h, 0}) })
	sortFound(want)
	if len(want) < 1000 {
		t.Fatalf("only %d values in the reference", len(want))
	}
	for _, n := range []int{1, 5, 13, 4096, 32 << 10, len(doc)} {
		got, unchecked := streamPII(c, doc, n)
		if !slices.Equal(got, want) || unchecked != 0 {
			t.Errorf("pieces of %d: %d values (%d unchecked), want %d", n, len(got), unchecked, len(want))
		}
	}
}

// The stream cuts where lastSeparator does.
func TestIsSeparatorIsLastSeparators(t *testing.T) {
	for c := range 256 {
		if isSeparator(byte(c)) != (lastSeparator([]byte{byte(c)}) == 0) {
			t.Errorf("%q: isSeparator %v", byte(c), isSeparator(byte(c)))
		}
	}
}

// validations is how many numbers a scanner sent to libphonenumber: each
// leaves a verdict in the cache (large enough here never to be cleared).
func validations(s *Scanner) int {
	n := 0
	for i := range s.cache {
		n += len(s.cache[i].m)
	}
	return n
}

// A body sends at most its allowance of numbers to libphonenumber. Past
// it, numbers in a plain form still count, hashed as validation hashes
// them; a number already found invalid stays so; other forms are not
// counted and say so.
func TestPIIStreamPhoneAllowance(t *testing.T) {
	const allowance = 52 // 13 records' four numbers
	var b strings.Builder
	b.WriteString(`[`)
	for i := range 3 * allowance {
		fmt.Fprintf(&b, `{"m":"139%08d","p":"+86 158-%04d-%04d","f":"010-%08d","bad":"+999%08d"},`, i, i, i, i, i)
	}
	b.WriteString(`{}]`)
	doc := []byte(b.String())

	// Every number validated: the reference.
	ref := piiCatalog(t)
	var want []Found
	ref.scanner.Scan(doc, func(k Kind, h uint64) { want = append(want, Found{ref.piiEnt[k], h, 0}) })
	sortFound(want)
	if len(want) != 3*3*allowance { // mobiles, +86 mobiles, fixed lines; +999 is no country
		t.Fatalf("reference found %d numbers, want %d", len(want), 9*allowance)
	}

	c := piiCatalog(t)
	c.scanner.maxChecks = allowance
	got, unchecked := streamPII(c, doc, 4096)
	if n := validations(c.scanner); n != allowance {
		t.Errorf("%d numbers validated, want the allowance of %d", n, allowance)
	}
	// The first 13 records' numbers are validated. Past them every
	// mobile counts as the validated one does, the +999s count too (not
	// validated), and fixed lines are left.
	fixedChecked := allowance / 4
	bad := 3*allowance - allowance/4 // +999s past the allowance
	if unchecked != 3*allowance-fixedChecked {
		t.Errorf("%d unchecked, want %d", unchecked, 3*allowance-fixedChecked)
	}
	if len(got) != 2*3*allowance+fixedChecked+bad {
		t.Errorf("%d numbers counted, want %d", len(got), 2*3*allowance+fixedChecked+bad)
	}
	missing := 0
	for _, f := range want {
		if !slices.Contains(got, f) {
			missing++
		}
	}
	if missing != 3*allowance-fixedChecked {
		t.Errorf("%d of the validated numbers not counted, want only the %d fixed lines past the allowance", missing, 3*allowance-fixedChecked)
	}

	// A verdict already known holds past the allowance: +999s found
	// invalid before are not counted again.
	ref.scanner.maxChecks = 0
	got, _ = streamPII(ref, doc, 4096)
	if !slices.Equal(got, want) {
		t.Errorf("with every verdict cached: %d numbers, want the %d validated", len(got), len(want))
	}
}

// Scan and ScanSpans (decoys, canaries, traces) validate every number.
func TestScanHasNoAllowance(t *testing.T) {
	s, _ := newTestScanner()
	s.maxChecks = 1
	n := 0
	s.Scan([]byte(`010-12345678 010-12345679 010-12345670`), func(Kind, uint64) { n++ })
	if n != 3 {
		t.Fatalf("Scan found %d of 3 fixed lines", n)
	}
}

// What waits for a separator is bounded: a value of megabytes without one
// (a base64 image in a JSON string) is cut at maxCarry, not kept whole.
func TestPIIStreamCarryIsBounded(t *testing.T) {
	c := piiCatalog(t)
	doc := []byte(`{"id":"` + strings.Repeat("a", 4<<20) + ` 13912345678"}`)
	n := 0
	s := c.PIIStream(func(Found) { n++ })
	peak := 0
	for i := 0; i < len(doc); i += 32 << 10 {
		s.Write(doc[i:min(i+32<<10, len(doc))])
		peak = max(peak, cap(s.work))
	}
	s.Close()
	if peak > 2*maxCarry {
		t.Errorf("%d bytes kept waiting for a separator, over twice maxCarry", peak)
	}
	if n != 1 {
		t.Errorf("%d phones found, want 1", n)
	}
}

// FuzzPIIStream: any bytes, cut anywhere, yield what Scan finds in the
// whole (under the 64 KiB a run may wait for a separator).
func FuzzPIIStream(f *testing.F) {
	f.Add([]byte(`{"phone":"13812345678","id":"11010519491231002X","card":"4111111111111111","e":"a@b.cn"}`), uint16(3))
	f.Add([]byte(`+86 138 1234 5678,+-+ 1-2-3 @@. x@y.zz "010-12345678"`), uint16(1))
	f.Add([]byte("\x00\xff+9\xff,\"13912345678"), uint16(7))
	c := piiCatalog(f)
	f.Fuzz(func(t *testing.T, doc []byte, n uint16) {
		if len(doc) >= maxCarry {
			return
		}
		var want []Found
		c.scanner.Scan(doc, func(k Kind, h uint64) { want = append(want, Found{c.piiEnt[k], h, 0}) })
		sortFound(want)
		got, _ := streamPII(c, doc, int(n%512)+1)
		if !slices.Equal(got, want) {
			t.Fatalf("pieces of %d: %v, want %v", int(n%512)+1, got, want)
		}
	})
}
