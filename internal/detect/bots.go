package detect

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

//go:embed data/rdns_seo_bots.txt
var rdnsSuffixes []byte

// Resolver is the DNS a BotVerifier asks; *net.Resolver is one, and tests
// pass a fake so they run offline.
type Resolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// BotVerifier checks that an address claiming to be a search engine's
// crawler is one, as the engines document: its reverse DNS name is under
// the engine's domain, and that name resolves forward to the same address.
// Verdicts are cached per address (bounded); lookups time out.
type BotVerifier struct {
	r        Resolver
	suffixes []string
	timeout  time.Duration
	mu       sync.Mutex
	cache    map[netip.Addr]verdict
}

type verdict struct {
	ok    bool
	until time.Time
}

// NewBotVerifier returns a verifier over r (nil: the system resolver),
// trusting the reverse-DNS suffixes of crowdsec's benign search bot list.
func NewBotVerifier(r Resolver) *BotVerifier {
	if r == nil {
		r = net.DefaultResolver
	}
	v := &BotVerifier{r: r, timeout: 2 * time.Second, cache: map[netip.Addr]verdict{}}
	sc := bufio.NewScanner(bytes.NewReader(rdnsSuffixes))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && !strings.HasPrefix(s, "#") {
			v.suffixes = append(v.suffixes, strings.ToLower(s))
		}
	}
	return v
}

// Verified reports whether addr is a verified search-engine crawler.
func (v *BotVerifier) Verified(addr netip.Addr) bool {
	now := time.Now()
	v.mu.Lock()
	if c, ok := v.cache[addr]; ok && now.Before(c.until) {
		v.mu.Unlock()
		return c.ok
	}
	v.mu.Unlock()
	ok := v.lookup(addr)
	ttl := 6 * time.Hour
	if !ok {
		ttl = 10 * time.Minute // retry failures sooner: DNS may have been down
	}
	v.mu.Lock()
	if len(v.cache) >= 100_000 {
		clear(v.cache)
	}
	v.cache[addr] = verdict{ok, now.Add(ttl)}
	v.mu.Unlock()
	return ok
}

func (v *BotVerifier) lookup(addr netip.Addr) bool {
	ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
	defer cancel()
	names, err := v.r.LookupAddr(ctx, addr.String())
	if err != nil {
		return false
	}
	for _, name := range names {
		fq := strings.ToLower(name)
		if !strings.HasSuffix(fq, ".") {
			fq += "."
		}
		trusted := false
		for _, s := range v.suffixes {
			trusted = trusted || strings.HasSuffix(fq, s)
		}
		if !trusted {
			continue
		}
		ips, err := v.r.LookupIPAddr(ctx, name)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip.IP); ok && a.Unmap() == addr.Unmap() {
				return true
			}
		}
	}
	return false
}
