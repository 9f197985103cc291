package canary

import (
	"bytes"
	"io"
	"sort"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Lookup says who received the canary with this kind and hash.
type Lookup func(k records.Kind, hash uint64) (Issued, bool)

// BatchLookup resolves many at once (a remote registry: one round trip
// for a batch); found[i] says whether keys[i] is a canary.
type BatchLookup func(keys []records.Found) (out []Issued, found []bool, err error)

// Tracer finds canaries in leaked data of any format (CSV, JSON lines,
// JSON, SQL dumps, plain text): it scans the bytes for personal values
// with the same scanner that issued them and looks each up.
type Tracer struct {
	Scanner *records.Scanner
	// Lookup resolves values as they are found; Batch, if set instead,
	// resolves the distinct values found, in batches, at Resolve.
	Lookup Lookup
	Batch  BatchLookup
	// Progress, if set, is called about once a second with bytes read.
	Progress func(bytes int64)

	Bytes   int64
	Values  int64 // personal values scanned (with repeats)
	Matches map[uint64]Issued
	seen    map[uint64]bool
	pending []records.Found
}

const chunk = 1 << 20

// Read scans one input to its end.
func (t *Tracer) Read(r io.Reader) error {
	if t.Matches == nil {
		t.Matches, t.seen = map[uint64]Issued{}, map[uint64]bool{}
	}
	buf := make([]byte, 0, chunk+4096)
	tmp := make([]byte, chunk)
	last := time.Now()
	for {
		n, err := r.Read(tmp)
		buf = append(buf, tmp[:n]...)
		t.Bytes += int64(n)
		eof := err == io.EOF
		if err != nil && !eof {
			return err
		}
		if len(buf) >= chunk || eof {
			// Scan up to the last line or word break, so no value is cut in
			// two; carry the rest into the next chunk.
			cut := len(buf)
			if !eof {
				if i := bytes.LastIndexAny(buf, "\n\r\t ,;"); i > 0 {
					cut = i + 1
				}
			}
			t.scan(buf[:cut])
			buf = append(buf[:0], buf[cut:]...)
		}
		if t.Progress != nil && time.Since(last) > time.Second {
			t.Progress(t.Bytes)
			last = time.Now()
		}
		if eof {
			return nil
		}
	}
}

func (t *Tracer) scan(b []byte) {
	t.Scanner.Scan(b, func(k records.Kind, h uint64) {
		t.Values++
		key := h ^ uint64(k)<<60
		if t.seen[key] {
			return
		}
		if len(t.seen) < 10_000_000 {
			t.seen[key] = true
		}
		if t.Batch != nil {
			t.pending = append(t.pending, records.Found{Entity: int(k), Hash: h})
			return
		}
		if x, ok := t.Lookup(k, h); ok {
			t.Matches[key] = x
		}
	})
}

// Resolve looks up the values a Batch tracer collected.
func (t *Tracer) Resolve() error {
	for len(t.pending) > 0 {
		n := min(len(t.pending), 1000)
		out, found, err := t.Batch(t.pending[:n])
		if err != nil {
			return err
		}
		for i, ok := range found {
			if ok {
				p := t.pending[i]
				t.Matches[p.Hash^uint64(p.Entity)<<60] = out[i]
			}
		}
		t.pending = t.pending[n:]
	}
	return nil
}

// Recipient is one actor whose canaries turned up, and how many.
type Recipient struct {
	Keys      map[string]string `json:"keys"` // kind → hash
	Canaries  int               `json:"canaries"`
	Kinds     []string          `json:"kinds"`
	FirstSent time.Time         `json:"first_issued"`
	LastSent  time.Time         `json:"last_issued"`
}

// Recipients groups the matches by recipient (its address key, or its
// account when it had one), most canaries first.
func (t *Tracer) Recipients() []Recipient {
	by := map[identity.Key]*Recipient{}
	kinds := map[identity.Key]map[string]bool{}
	var order []identity.Key
	for _, x := range t.Matches {
		id := x.Actor.Keys[identity.Account]
		if id.Hash == 0 {
			id = x.Actor.Keys[identity.IP]
		}
		r := by[id]
		if r == nil {
			r = &Recipient{Keys: map[string]string{}}
			for _, k := range x.Actor.Keys {
				if k.Hash != 0 {
					s := k.String()
					r.Keys[k.Kind.String()] = s[len(k.Kind.String())+1:]
				}
			}
			by[id], kinds[id] = r, map[string]bool{}
			order = append(order, id)
		}
		r.Canaries++
		kinds[id][x.Kind.String()] = true
		at := time.Unix(0, x.At).UTC()
		if r.FirstSent.IsZero() || at.Before(r.FirstSent) {
			r.FirstSent = at
		}
		if at.After(r.LastSent) {
			r.LastSent = at
		}
	}
	out := make([]Recipient, 0, len(order))
	for _, id := range order {
		r := by[id]
		for k := range kinds[id] {
			r.Kinds = append(r.Kinds, k)
		}
		sort.Strings(r.Kinds)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Canaries > out[j].Canaries })
	return out
}

// SmallestSpace is the number of valid values in the smallest canary value
// space (resident IDs: 10 area codes × ~15,000 birth dates × 1,000
// sequence numbers): an upper bound for how likely an unrelated value is
// to equal some canary.
const SmallestSpace = 1.5e8

// ExpectedChance is how many canary matches unrelated data of this size
// would hold by chance, given registry canaries issued in all: an upper
// bound, taking every value from the smallest space.
func ExpectedChance(values int64, registry int) float64 {
	return float64(values) * float64(registry) / SmallestSpace
}
