package stack_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/leakguard/leakguard/internal/config"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/stack"
)

// identity.tls_fingerprint_header reaches the resolver: two clients with
// one header shape through the edge, one a browser's TLS handshake and
// one a script's, are two fingerprints.
func TestTLSFingerprintHeaderReachesTheResolver(t *testing.T) {
	for _, tt := range []struct {
		name, identity string
		split          bool
	}{
		{"set", "identity:\n  trusted_proxies: [10.0.0.0/8]\n  tls_fingerprint_header: CloudFront-Viewer-JA4-Fingerprint\n", true},
		{"not set", "identity:\n  trusted_proxies: [10.0.0.0/8]\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, st := build(t, fmt.Sprintf("upstream: http://127.0.0.1:1\nrecords:\n  - {route: 'GET /api/users/{id}', entity: user}\nstate: {dir: %q}\n%s", t.TempDir(), tt.identity))
			fp := func(ja4 string) identity.Key {
				r := httptest.NewRequest("GET", "/api/users/1", nil)
				r.RemoteAddr = "10.0.0.5:4000"
				r.Header.Set("User-Agent", "Mozilla/5.0 Chrome/120")
				r.Header.Set("CloudFront-Viewer-JA4-Fingerprint", ja4)
				return st.Resolver.Identify(r).Keys[identity.Fingerprint]
			}
			if split := fp("t13d1516h2_8daaf6152771_02713d6af862") != fp("t13d1012h2_1d37bd780c83_882d495ac381"); split != tt.split {
				t.Fatalf("two TLS fingerprints split: %v, want %v", split, tt.split)
			}
		})
	}
}

// build is the stack `leakguard proxy` builds from config text, offline.
func build(t testing.TB, text string) (*config.Config, *keyed.Hasher, *stack.Stack) {
	t.Helper()
	return buildWith(t, text, stack.Options{NoBotDNS: true})
}

func buildWith(t testing.TB, text string, o stack.Options) (*config.Config, *keyed.Hasher, *stack.Stack) {
	t.Helper()
	cfg, err := config.Decode("test", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ValidateOffline(); err != nil {
		t.Fatal(err)
	}
	h, _, _, err := stack.Hasher(cfg, func(string) string { return "test-secret-0123456789" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Build(cfg, h, nil, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, h, st
}
