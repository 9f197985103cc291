package canary

import (
	"sync"

	"github.com/tidwall/gjson"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// Issued is one canary value served: its kind and keyed hash (as the
// scanner hashes it, so a tracer scanning a dump finds the same hash), and
// who received it when. The registry keeps only this: no raw values.
type Issued struct {
	Kind  records.Kind
	Hash  uint64
	Actor identity.Actor
	At    int64 // unix ns
}

// Ledger collects issued canaries until the state syncer writes them.
// Bounded: past Max pending entries the newest are dropped (and counted);
// a sprinkle is a sample, not an obligation.
type Ledger struct {
	Max     int
	mu      sync.Mutex
	pending []Issued
	dropped uint64
	issued  uint64
}

// Issue records canaries served.
func (l *Ledger) Issue(xs ...Issued) {
	l.mu.Lock()
	defer l.mu.Unlock()
	max := l.Max
	if max <= 0 {
		max = 100_000
	}
	for _, x := range xs {
		if len(l.pending) >= max {
			l.dropped++
			continue
		}
		l.pending = append(l.pending, x)
		l.issued++
	}
}

// Drain returns and forgets the pending entries.
func (l *Ledger) Drain() []Issued {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.pending
	l.pending = nil
	return out
}

// Counts returns canaries issued and dropped so far.
func (l *Ledger) Counts() (issued, dropped uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.issued, l.dropped
}

// Sprinkle adds one canary element to the JSON array at path (gjson syntax,
// e.g. "reviews") in body: a copy of the array's first element whose
// personal values and id fields are replaced by values derived from the
// actor and seq. It returns the new body and the canaries in it, or ok
// false when the array is missing or empty (nothing to copy the shape of).
func (m *Maker) Sprinkle(body []byte, path string, actor identity.Key, seq uint64) (out []byte, canaries []records.Found, ok bool) {
	arr := gjson.GetBytes(body, path)
	if !arr.IsArray() || arr.Index <= 0 {
		return body, nil, false
	}
	first := arr.Get("0")
	if !first.Exists() || first.Type != gjson.JSON {
		return body, nil, false
	}
	clone := []byte(first.Raw)
	// ids: numbers under keys named id or ending in _id / Id
	type span struct{ start, end int }
	var ids []span
	var walk func(r gjson.Result, base int, depth int)
	walk = func(r gjson.Result, base, depth int) {
		if depth > 8 {
			return
		}
		r.ForEach(func(k, v gjson.Result) bool {
			name := k.String()
			switch {
			case v.Type == gjson.JSON:
				walk(v, base, depth+1)
			case v.Type == gjson.Number && v.Index > 0 && isIDName(name):
				ids = append(ids, span{v.Index, v.Index + len(v.Raw)})
			case v.Type == gjson.String && v.Index > 0 && isTextName(name) && len(v.Raw) == len(v.Str)+2:
				// a person's name, nickname or words: not the template's
				ids = append(ids, span{v.Index + 1, v.Index + 1 + len(v.Str)})
			}
			return true
		})
	}
	walk(gjson.ParseBytes(clone), 0, 0)
	for _, sp := range ids {
		copy(clone[sp.start:sp.end], m.ReplaceID(clone[sp.start:sp.end], identity.Key{Kind: actor.Kind, Hash: actor.Hash ^ seq*0x9e3779b97f4a7c15}))
	}
	// personal values: derived per (actor, seq), then read back as canaries
	m.sc.ScanSpans(clone, func(k records.Kind, h uint64, start, end int) {
		copy(clone[start:end], m.Replace(k, clone[start:end], h^seq*0xc2b2ae3d27d4eb4f, actor))
	})
	m.sc.Scan(clone, func(k records.Kind, h uint64) { canaries = append(canaries, records.Found{Entity: int(k), Hash: h}) })
	if len(canaries) == 0 {
		return body, nil, false
	}
	end := arr.Index + len(arr.Raw) - 1 // the closing ]
	out = make([]byte, 0, len(body)+len(clone)+1)
	out = append(out, body[:end]...)
	out = append(out, ',')
	out = append(out, clone...)
	out = append(out, body[end:]...)
	return out, canaries, true
}

func isTextName(s string) bool {
	switch s {
	case "nick", "nickname", "name", "username", "user_name", "text", "comment", "title", "address":
		return true
	}
	return false
}

func isIDName(s string) bool {
	n := len(s)
	return s == "id" || s == "ID" || (n > 3 && (s[n-3:] == "_id" || s[n-2:] == "Id"))
}
