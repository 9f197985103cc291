package records

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/keyed"
)

// distinctPhones is a JSON page of about n bytes in which every record
// has a phone number no other has: what a harvester pages through, and
// what the scanner's cache cannot help with. format makes the number
// from the record's index.
func distinctPhones(n int, format string) []byte {
	var b strings.Builder
	b.WriteString(`{"users":[`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":"u%d","phone":"`+format+`"},`, i, i)
	}
	b.WriteString(`{}]}`)
	return []byte(b.String())
}

// BenchmarkScanDistinctPhones: CPU per MB (see MB/s) of pages of distinct
// phone numbers, each scanned by a fresh scanner (a cold cache: every
// number is new). scan is a whole body read by Scan, every number
// validated (the whole-body path); stream is the same page through a
// PIIStream in 32 KiB pieces, with one body's allowance of validations.
func BenchmarkScanDistinctPhones(b *testing.B) {
	h := keyed.New([]byte("bench-secret-0123456789"))
	for _, f := range []struct{ name, format string }{
		{"mobile", "138%08d"}, {"plus", "+86138%08d"}, {"fixed", "010-%08d"},
	} {
		for _, size := range []int{1 << 20, 8 << 20} {
			page := distinctPhones(size, f.format)
			for _, how := range []string{"scan", "stream"} {
				if how == "scan" && size > 1<<20 {
					continue // 5 s a page
				}
				b.Run(fmt.Sprintf("%s/%s/%dMiB", f.name, how, size>>20), func(b *testing.B) {
					b.SetBytes(int64(len(page)))
					n := 0
					for b.Loop() {
						c, err := NewCatalog(Spec{PII: []string{"phone", "email", "cn_id", "bank_card"}, PhoneRegions: []string{"CN"}}, h)
						if err != nil {
							b.Fatal(err)
						}
						if how == "scan" {
							c.scanner.Scan(page, func(Kind, uint64) { n++ })
							continue
						}
						s := c.PIIStream(func(Found) { n++ })
						for off := 0; off < len(page); off += 32 << 10 {
							s.Write(page[off:min(off+32<<10, len(page))])
						}
						s.Close()
					}
					b.ReportMetric(float64(n)/float64(b.N), "phones/op")
				})
			}
		}
	}
}
