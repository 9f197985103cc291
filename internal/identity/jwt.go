package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTVerifier checks bearer tokens' signatures before their claims are
// believed. Without one, a client can put any account in a token: take a
// fresh budget, or spend — and get blocked — someone else's.
type JWTVerifier struct {
	key     any
	methods []string
	now     func() time.Time

	mu    sync.Mutex
	cache map[uint64]verified // token hash -> result
}

type verified struct {
	account uint64 // keyed hash of the claim, 0 if the token was bad
	exp     time.Time
}

const jwtCacheMax = 65536

// NewHMACVerifier verifies HS256/384/512 tokens with a shared secret.
func NewHMACVerifier(secret []byte) (*JWTVerifier, error) {
	if len(secret) < 16 {
		return nil, errors.New("JWT HMAC secret is too short: want at least 16 bytes")
	}
	return newVerifier(secret, []string{"HS256", "HS384", "HS512"}), nil
}

// NewPublicKeyVerifier verifies tokens signed by the holder of a PEM public key
// (RSA: RS*/PS*, ECDSA: ES*, Ed25519: EdDSA).
func NewPublicKeyVerifier(pem []byte) (*JWTVerifier, error) {
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
		return newVerifier(k, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}), nil
	}
	if k, err := jwt.ParseECPublicKeyFromPEM(pem); err == nil {
		return newVerifier(k, []string{"ES256", "ES384", "ES512"}), nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(pem); err == nil {
		return newVerifier(k, []string{"EdDSA"}), nil
	}
	return nil, errors.New("not a PEM RSA, ECDSA or Ed25519 public key")
}

func newVerifier(key any, methods []string) *JWTVerifier {
	return &JWTVerifier{key: key, methods: methods, now: time.Now, cache: map[uint64]verified{}}
}

// claim verifies tok and returns the claim's value.
func (v *JWTVerifier) claim(tok, claim string) (string, time.Time, bool) {
	t, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return v.key, nil },
		jwt.WithValidMethods(v.methods), jwt.WithTimeFunc(v.now), jwt.WithLeeway(30*time.Second))
	if err != nil || !t.Valid {
		return "", time.Time{}, false
	}
	mc, ok := t.Claims.(jwt.MapClaims)
	if !ok {
		return "", time.Time{}, false
	}
	exp := v.now().Add(time.Hour)
	if e, err := mc.GetExpirationTime(); err == nil && e != nil {
		exp = e.Time
	}
	switch c := mc[claim].(type) {
	case string:
		return c, exp, c != ""
	case float64:
		return strconv.FormatFloat(c, 'f', -1, 64), exp, true
	case json.Number:
		return c.String(), exp, true
	}
	return "", time.Time{}, false
}

// account returns the account key hash for a verified token, or 0. Results
// are cached by token hash (bounded; cleared when full) so a token's
// signature is checked once, not on every request.
func (r *Resolver) verifiedAccount(v *JWTVerifier, auth, claim string) uint64 {
	tok, ok := bearer(auth)
	if !ok || len(tok) > 8192 {
		return 0
	}
	th := r.h.String(domJWTCache, tok)
	now := v.now()
	v.mu.Lock()
	c, hit := v.cache[th]
	v.mu.Unlock()
	if hit && now.Before(c.exp) {
		return c.account
	}
	val, exp, ok := v.claim(tok, claim)
	c = verified{exp: now.Add(time.Minute)} // a bad token is remembered briefly
	if ok {
		c = verified{account: nz(r.h.String(domAccount, val)), exp: exp}
	}
	v.mu.Lock()
	if len(v.cache) >= jwtCacheMax {
		clear(v.cache)
	}
	v.cache[th] = c
	v.mu.Unlock()
	return c.account
}

func (v *JWTVerifier) String() string {
	return fmt.Sprintf("JWT verifier (%s)", strings.Join(v.methods, ","))
}
