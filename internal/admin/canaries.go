package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// CanaryQuery is the body of POST /api/canaries/lookup: values a tracer
// found in a dump, as kind and keyed hash (never the values themselves).
type CanaryQuery struct {
	Values []CanaryValue `json:"values"`
}

// CanaryValue is one value: its records.Kind and its keyed hash in hex.
type CanaryValue struct {
	Kind int    `json:"kind"`
	Hash string `json:"hash"`
}

// CanaryAnswer answers a query in its order: null where a value is not a
// canary.
type CanaryAnswer struct {
	Issued []*CanaryIssued `json:"issued"`
}

// CanaryIssued says who received a canary, and when (unix ns).
type CanaryIssued struct {
	At   int64             `json:"at"`
	Keys map[string]string `json:"keys"` // key kind → hash, as in the decision log
}

// MaxCanaryQuery bounds the values of one lookup.
const MaxCanaryQuery = 100_000

// canaries looks values up in the running proxy's canary registry, so a
// leak can be traced without stopping the proxy (state.db is single-writer).
func (o Options) canaries(w http.ResponseWriter, r *http.Request) {
	if o.Canaries == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no canary registry"})
		return
	}
	var q CanaryQuery
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&q); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return
	}
	if len(q.Values) > MaxCanaryQuery {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "at most " + strconv.Itoa(MaxCanaryQuery) + " values a request"})
		return
	}
	keys := make([]records.Found, len(q.Values))
	for i, v := range q.Values {
		h, err := strconv.ParseUint(v.Hash, 16, 64)
		if err != nil || v.Kind < 0 || v.Kind > 255 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "values[" + strconv.Itoa(i) + "]: want a kind and a hex hash"})
			return
		}
		keys[i] = records.Found{Entity: v.Kind, Hash: h}
	}
	issued, found, err := o.Canaries(keys)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	ans := CanaryAnswer{Issued: make([]*CanaryIssued, len(keys))}
	for i := range keys {
		if i < len(found) && found[i] {
			x := issued[i]
			ci := &CanaryIssued{At: x.At, Keys: map[string]string{}}
			for _, k := range x.Actor.Keys {
				if k.Hash != 0 { // as the decision log writes keys
					kind, hash, _ := strings.Cut(k.String(), ":")
					ci.Keys[kind] = hash
				}
			}
			ans.Issued[i] = ci
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

// Issued turns an answer back into the registry's form.
func (ci *CanaryIssued) Issued(k records.Kind, hash uint64) canary.Issued {
	x := canary.Issued{Kind: k, Hash: hash, At: ci.At}
	for kind, v := range ci.Keys {
		if key, err := identity.ParseKey(kind + ":" + v); err == nil {
			x.Actor.Keys[key.Kind] = key
		}
	}
	return x
}
