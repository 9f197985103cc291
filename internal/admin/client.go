package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/records"
)

// CanaryLookup resolves canaries through a running proxy's admin API at
// base (e.g. http://127.0.0.1:9090), in requests of at most MaxCanaryQuery
// values: only kinds and keyed hashes travel, never the dump's values. It
// lets canary trace read a live registry without stopping the proxy.
func CanaryLookup(ctx context.Context, base, token string) canary.BatchLookup {
	hc := &http.Client{Timeout: 60 * time.Second}
	return func(keys []records.Found) ([]canary.Issued, []bool, error) {
		out, found := make([]canary.Issued, len(keys)), make([]bool, len(keys))
		for lo := 0; lo < len(keys); lo += MaxCanaryQuery {
			part := keys[lo:min(lo+MaxCanaryQuery, len(keys))]
			ans, err := postCanaryQuery(ctx, hc, base, token, part)
			if err != nil {
				return nil, nil, err
			}
			for i, ci := range ans.Issued {
				if ci != nil {
					out[lo+i], found[lo+i] = ci.Issued(records.Kind(part[i].Entity), part[i].Hash), true
				}
			}
		}
		return out, found, nil
	}
}

// postCanaryQuery asks about one batch, and checks the answer has one
// entry per value asked.
func postCanaryQuery(ctx context.Context, hc *http.Client, base, token string, part []records.Found) (*CanaryAnswer, error) {
	q := CanaryQuery{Values: make([]CanaryValue, len(part))}
	for i, k := range part {
		q.Values[i] = CanaryValue{Kind: k.Entity, Hash: strconv.FormatUint(k.Hash, 16)}
	}
	body, _ := json.Marshal(q)
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/canaries/lookup", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	var ans CanaryAnswer
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&ans)
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", base, resp.Status)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", base, err)
	case len(ans.Issued) != len(part):
		return nil, fmt.Errorf("%s: %d answers to %d values", base, len(ans.Issued), len(part))
	}
	return &ans, nil
}
