package canary

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/leakguard/leakguard/internal/records"
)

// Trace throughput on a CSV dump of phone-bearing rows (go test -bench
// Trace ./internal/canary): MB/s through scan and registry lookups.
func BenchmarkTrace(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var buf bytes.Buffer
	for buf.Len() < 16<<20 {
		fmt.Fprintf(&buf, "%d,user%d,%s%08d,%d Nanshan Road\n", rng.IntN(1e7), rng.IntN(1e6),
			mobilePrefixes[rng.IntN(len(mobilePrefixes))], rng.IntN(100_000_000), rng.IntN(999))
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr := &Tracer{Scanner: scanner().Lenient(), Lookup: func(records.Kind, uint64) (Issued, bool) { return Issued{}, false }}
		if err := tr.Read(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// A value cut by the chunk boundary is still found: chunks end at breaks.
func TestTraceAcrossChunks(t *testing.T) {
	var buf bytes.Buffer
	for buf.Len() < chunk-5 {
		buf.WriteString("x,")
	}
	buf.WriteString("13912345678\n")
	tr := &Tracer{Scanner: scanner(), Lookup: func(k records.Kind, h uint64) (Issued, bool) { return Issued{Kind: k, Hash: h}, true }}
	if err := tr.Read(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if len(tr.Matches) != 1 {
		t.Fatalf("%d matches, want the one phone across the boundary", len(tr.Matches))
	}
}
