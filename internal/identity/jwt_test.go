package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

// hmacVerifier is a verifier of HS256 tokens signed with secret, at a
// fixed time now.
func hmacVerifier(t *testing.T) (secret []byte, v *JWTVerifier, now time.Time) {
	t.Helper()
	secret = []byte("jwt-shared-secret-0123456789")
	v, err := NewHMACVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	v.now = func() time.Time { return now }
	return secret, v, now
}

func accountOf(r *Resolver, auth string) Key {
	req := req("203.0.113.1:1", "Authorization", auth)
	return r.Identify(req).Keys[Account]
}

// Regression: with verification on, a forged token must not name an account —
// else anyone could get a victim's account blocked by scraping in its name.
func TestJWTVerificationRejectsForgedTokens(t *testing.T) {
	secret, v, now := hmacVerifier(t)
	r := resolver(Options{Account: Source{JWTClaim: "sub", JWT: v}})
	good := signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "victim", "exp": now.Add(time.Hour).Unix()})
	victim := accountOf(r, good)
	if victim.Hash == 0 {
		t.Fatal("a valid token gave no account")
	}
	if again := accountOf(r, good); again != victim {
		t.Fatal("cached verification changed the key")
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "victim"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, auth := range map[string]string{
		"wrong secret":    signed(t, jwt.SigningMethodHS256, []byte("attacker-secret-0123456789"), jwt.MapClaims{"sub": "victim"}),
		"alg none":        "Bearer " + none,
		"expired":         signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "victim", "exp": now.Add(-time.Hour).Unix()}),
		"unsigned forged": unsignedJWT(`{"sub":"victim"}`),
		"no claim":        signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"uid": "victim"}),
	} {
		if k := accountOf(r, auth); k.Hash != 0 {
			t.Errorf("%s: token accepted as account %v", name, k)
		}
	}
	// Without verification the same forged token is believed: the README's warning.
	unverified := resolver(Options{Account: Source{JWTClaim: "sub"}})
	if accountOf(unverified, unsignedJWT(`{"sub":"victim"}`)) != victim {
		t.Error("unverified mode should read the claim (and the two modes hash alike)")
	}
}

func TestJWTPublicKey(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	v, err := NewPublicKeyVerifier(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	r := resolver(Options{Account: Source{JWTClaim: "uid", JWT: v}})
	if k := accountOf(r, signed(t, jwt.SigningMethodEdDSA, priv, jwt.MapClaims{"uid": 42})); k.Hash == 0 {
		t.Fatal("EdDSA token not accepted")
	}
	if _, err := NewPublicKeyVerifier([]byte("not a key")); err == nil {
		t.Error("garbage accepted as a public key")
	}
	if _, err := NewHMACVerifier([]byte("short")); err == nil {
		t.Error("short HMAC secret accepted")
	}
}

// A token sent as "bearer <t>" or "Bearer  <t>" reaches the upstream,
// which accepts it as most libraries do, and was read as no account at
// all: a scraper kept its access and lost its account key, the one budget
// that held it (a red team, 2026-12-02, 46,354 records in a minute against
// 524).
func TestBearerSchemeSpellings(t *testing.T) {
	secret, v, now := hmacVerifier(t)
	tok := signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix()})[len("Bearer "):]
	for _, r := range []*Resolver{
		resolver(Options{Account: Source{JWTClaim: "sub", JWT: v}}),
		resolver(Options{Account: Source{JWTClaim: "sub"}}), // claims read unverified
	} {
		want := accountOf(r, "Bearer "+tok)
		if want.Hash == 0 {
			t.Fatal("a valid token gave no account")
		}
		for _, auth := range []string{"bearer " + tok, "BEARER " + tok, "Bearer  " + tok, " Bearer " + tok + " ", "bEaReR \t" + tok} {
			if got := accountOf(r, auth); got != want {
				t.Errorf("Authorization %q: account %v, want %v", auth[:10], got, want)
			}
		}
		for _, auth := range []string{"Basic " + tok, "Bearer", "Bearer ", "Bearer" + tok, tok} {
			if got := accountOf(r, auth); got.Hash != 0 {
				t.Errorf("Authorization %q: account %v, want none", auth[:min(len(auth), 10)], got)
			}
		}
	}
}
