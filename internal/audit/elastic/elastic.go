// Package elastic probes Elasticsearch and OpenSearch clusters over their
// HTTP API as a stranger would: the banner, the index list, mappings and a
// bounded sample search. It only sends GET requests.
package elastic

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/audit"
)

// Prober probes Elasticsearch/OpenSearch targets.
type Prober struct {
	// Client, if set, is used instead of the default (tests inject one
	// that trusts an httptest TLS server).
	Client *http.Client
}

var _ audit.Prober = (*Prober)(nil)

const maxBody = 32 << 20

var fixes = []string{
	"Enable security: xpack.security.enabled: true (the default from 8.0; OpenSearch: the security plugin) and give every user a password.",
	"Bind the HTTP layer to a private address (network.host / http.host), never 0.0.0.0 on a public interface; firewall port 9200.",
	"Serve HTTPS (xpack.security.http.ssl.enabled: true) so credentials and documents do not cross the network in clear.",
}

type client struct {
	hc         *http.Client
	base       string
	user, pass string
}

func (c *client) get(ctx context.Context, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK || v == nil {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: not the JSON an Elasticsearch node sends: %w", path, err)
	}
	return resp.StatusCode, nil
}

func (p *Prober) httpClient() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			// An audit must see a self-signed cluster's data too; whether
			// its certificate verifies is noted, not required.
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: 2,
		},
	}
}

type banner struct {
	Name        string `json:"name"`
	ClusterName string `json:"cluster_name"`
	Tagline     string `json:"tagline"`
	Version     struct {
		Number       string `json:"number"`
		Distribution string `json:"distribution"`
	} `json:"version"`
}

type catIndex struct {
	Index     string `json:"index"`
	DocsCount string `json:"docs.count"`
	Status    string `json:"status"`
}

// Probe implements audit.Prober.
func (p *Prober) Probe(ctx context.Context, t audit.Target, cl *audit.Classifier) (f audit.Finding) {
	defer func() { f.SetFix(fixes[:2], fixes[2]) }()
	c := &client{hc: p.httpClient()}
	var b banner
	code, err := p.connect(ctx, c, t, &b, &f)
	if err != nil {
		f.Status, f.Error = audit.Error, err.Error()
		return f
	}
	switch code {
	case http.StatusOK:
		f.Status, f.Access = audit.Exposed, "no authentication: GET / answered a stranger"
	case http.StatusUnauthorized, http.StatusForbidden:
		f.Status, f.Access = audit.Closed, fmt.Sprintf("HTTP %d to an unauthenticated request", code)
		if t.User == "" {
			return f
		}
		c.user, c.pass = t.User, t.Password
		if code, err = c.get(ctx, "/", &b); err != nil || code != http.StatusOK {
			f.Notes = append(f.Notes, fmt.Sprintf("the given credentials were refused too (HTTP %d)", code))
			return f
		}
		f.WithCredentials = true
	default:
		f.Status, f.Error = audit.Error, fmt.Sprintf("GET / answered HTTP %d: not an Elasticsearch node?", code)
		return f
	}
	if b.Version.Number == "" && b.Tagline == "" {
		f.Notes = append(f.Notes, "GET / did not return an Elasticsearch banner")
	}
	f.Version = b.Version.Number
	if b.Version.Distribution == "opensearch" {
		f.Kind = "opensearch"
		f.Version = "OpenSearch " + f.Version
	}
	p.inventory(ctx, c, t, cl, &f)
	return f
}

// connect finds the scheme the node speaks: HTTPS first (so TLS is noted
// when present), plain HTTP when the TLS handshake fails.
func (p *Prober) connect(ctx context.Context, c *client, t audit.Target, b *banner, f *audit.Finding) (int, error) {
	c.base = "https://" + t.Host
	code, err := c.get(ctx, "/", b)
	if err == nil {
		f.TLS = "yes"
		return code, nil
	}
	var rh tls.RecordHeaderError
	if t.TLS || !(errors.As(err, &rh) || strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "HTTP response to HTTPS")) {
		return 0, err
	}
	c.base = "http://" + t.Host
	code, err = c.get(ctx, "/", b)
	if err == nil {
		f.TLS = "no"
	}
	return code, err
}

func (p *Prober) inventory(ctx context.Context, c *client, t audit.Target, cl *audit.Classifier, f *audit.Finding) {
	var idx []catIndex
	code, err := c.get(ctx, "/_cat/indices?format=json&bytes=b&h=index,docs.count,status", &idx)
	if err != nil || code != http.StatusOK {
		f.Notes = append(f.Notes, fmt.Sprintf("listing indices failed (HTTP %d, %v)", code, err))
		return
	}
	kept := idx[:0]
	for _, ix := range idx {
		// System indices (.security, .kibana...) are the cluster's, not
		// customers'.
		if strings.HasPrefix(ix.Index, ".") || (t.Database != "" && !strings.HasPrefix(ix.Index, t.Database)) {
			continue
		}
		kept = append(kept, ix)
	}
	sort.Slice(kept, func(i, j int) bool { return atoi(kept[i].DocsCount) > atoi(kept[j].DocsCount) })
	if len(kept) > t.MaxCollections {
		kept, f.Truncated = kept[:t.MaxCollections], true
	}
	for _, ix := range kept {
		if ctx.Err() != nil {
			return
		}
		col := audit.NewCollection(ix.Index, atoi(ix.DocsCount), true)
		if ix.Status == "close" {
			col.Note = "closed index: not searchable, but its data is on disk"
			f.Collections = append(f.Collections, col)
			continue
		}
		esc := url.PathEscape(ix.Index)
		var mapping map[string]struct {
			Mappings map[string]json.RawMessage `json:"mappings"`
		}
		if code, err := c.get(ctx, "/"+esc+"/_mapping", &mapping); err == nil && code == http.StatusOK {
			for _, m := range mapping {
				col.Declare(mappingFields(m.Mappings)...)
			}
		}
		var res struct {
			Hits struct {
				Hits []struct {
					Source json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		code, err := c.get(ctx, "/"+esc+"/_search?size="+strconv.Itoa(t.Sample), &res)
		if err != nil || code != http.StatusOK {
			col.Note = fmt.Sprintf("sample search failed (HTTP %d)", code)
		}
		for _, h := range res.Hits.Hits {
			kvs, err := audit.Flatten(h.Source, 500)
			if err != nil {
				continue
			}
			cl.AddRow(&col, kvs)
		}
		f.Collections = append(f.Collections, col)
	}
}

// mappingFields lists the dotted field names of a mapping: 7.x and later
// put "properties" directly under "mappings"; 6.x nests them under a type.
func mappingFields(m map[string]json.RawMessage) []string {
	if props, ok := m["properties"]; ok {
		return props2fields("", props, 0)
	}
	var out []string
	for _, typ := range m {
		var inner struct {
			Properties json.RawMessage `json:"properties"`
		}
		if json.Unmarshal(typ, &inner) == nil && inner.Properties != nil {
			out = append(out, props2fields("", inner.Properties, 0)...)
		}
	}
	return out
}

func props2fields(prefix string, raw json.RawMessage, depth int) []string {
	var props map[string]struct {
		Properties json.RawMessage `json:"properties"`
	}
	if depth > 8 || json.Unmarshal(raw, &props) != nil {
		return nil
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		full := n
		if prefix != "" {
			full = prefix + "." + n
		}
		if props[n].Properties != nil {
			out = append(out, props2fields(full, props[n].Properties, depth+1)...)
		} else {
			out = append(out, full)
		}
	}
	return out
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
