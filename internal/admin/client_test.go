package admin

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

// CanaryLookup asks the admin API in batches of MaxCanaryQuery and puts
// each answer back in the caller's order, with its recipient's keys.
func TestCanaryLookupThroughTheAdminAPI(t *testing.T) {
	const token = "s3cret-token-0123456789"
	recipient := identity.Key{Kind: identity.IP, Hash: 0xabc}
	var asked []int
	srv := httptest.NewServer(Handler(Options{Token: token, Gatherer: prometheus.NewRegistry(),
		Canaries: func(keys []records.Found) ([]canary.Issued, []bool, error) {
			asked = append(asked, len(keys))
			out, found := make([]canary.Issued, len(keys)), make([]bool, len(keys))
			for i, k := range keys {
				if k.Hash%2 == 1 { // odd hashes are canaries
					out[i].At, found[i] = int64(k.Hash), true
					out[i].Actor.Keys[identity.IP] = recipient
				}
			}
			return out, found, nil
		}}))
	defer srv.Close()

	keys := make([]records.Found, MaxCanaryQuery+3)
	for i := range keys {
		keys[i] = records.Found{Entity: 2, Hash: uint64(i + 1)}
	}
	issued, found, err := CanaryLookup(context.Background(), srv.URL, token)(keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 || asked[0] != MaxCanaryQuery || asked[1] != 3 {
		t.Errorf("batches %v, want [%d 3]", asked, MaxCanaryQuery)
	}
	for i, k := range keys {
		if found[i] != (k.Hash%2 == 1) {
			t.Fatalf("key %d: found %v", i, found[i])
		}
		if found[i] && (issued[i].Hash != k.Hash || issued[i].Kind != 2 || issued[i].At != int64(k.Hash) || issued[i].Actor.Keys[identity.IP] != recipient) {
			t.Fatalf("key %d: %+v", i, issued[i])
		}
	}

	if _, _, err := CanaryLookup(context.Background(), srv.URL, "wrong-token-0123456789")(keys[:1]); err == nil {
		t.Error("a wrong token was not an error")
	}
}
