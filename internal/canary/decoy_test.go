package canary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/keyed"
	"github.com/leakguard/leakguard/internal/records"
)

func scanner() *records.Scanner {
	return records.NewScanner([]records.Kind{records.Phone, records.Email, records.CNID, records.BankCard}, []string{"CN"},
		keyed.New([]byte("0123456789abcdef")), [4]uint64{1, 2, 3, 4})
}

func TestDecoysAreValidDeterministicAndPerActor(t *testing.T) {
	m := NewMaker([]byte("decoy-secret-0123456789"), scanner())
	alice := identity.Key{Kind: identity.IP, Hash: 1}
	bob := identity.Key{Kind: identity.IP, Hash: 2}
	for _, tc := range []struct {
		k records.Kind
		v string
	}{
		{records.Phone, "13912345678"},
		{records.Phone, "+86 139-1234-5678"},
		{records.Phone, "+8613912345678"},
		{records.Email, "zhang.wei88@example.com"},
		{records.CNID, "110101199003071233"},
		{records.BankCard, "6222021234567890123"},
	} {
		a := m.Replace(tc.k, []byte(tc.v), 42, alice)
		if len(a) != len(tc.v) || string(a) == tc.v {
			t.Errorf("%s %q → %q: want same length, different value", tc.k, tc.v, a)
		}
		if again := m.Replace(tc.k, []byte(tc.v), 42, alice); !bytes.Equal(a, again) {
			t.Errorf("%s: not deterministic", tc.k)
		}
		if b := m.Replace(tc.k, []byte(tc.v), 42, bob); bytes.Equal(a, b) {
			t.Errorf("%s: two actors got the same decoy %q", tc.k, a)
		}
		// The scanner, which validates, must find the decoy as the same kind.
		found := false
		scanner().Scan(a, func(k records.Kind, _ uint64) { found = found || k == tc.k })
		if !found {
			t.Errorf("%s decoy %q does not validate as %s", tc.k, a, tc.k)
		}
		if tc.k == records.Phone {
			num, err := phonenumbers.Parse(string(a), "CN")
			if err != nil || !phonenumbers.IsValidNumber(num) {
				t.Errorf("phone decoy %q is not a valid number", a)
			}
		}
	}
}

func TestBodyKeepsJSONValid(t *testing.T) {
	m := NewMaker([]byte("decoy-secret-0123456789"), scanner())
	body := []byte(`{"id":42,"nick":"wei","phone":"13912345678","email":"wei@example.com","note":"call 15800001111 after 6pm","price":12.5}`)
	orig := append([]byte(nil), body...)
	n := m.Body(body, identity.Key{Kind: identity.IP, Hash: 9})
	if n != 3 || len(body) != len(orig) || !json.Valid(body) {
		t.Fatalf("replaced %d: %s", n, body)
	}
	for _, raw := range []string{"13912345678", "wei@example.com", "15800001111"} {
		if bytes.Contains(body, []byte(raw)) {
			t.Errorf("decoyed body still holds %q: %s", raw, body)
		}
	}
	if !bytes.Contains(body, []byte(`"id":42`)) || !bytes.Contains(body, []byte(`"price":12.5`)) {
		t.Errorf("non-personal fields changed: %s", body)
	}
}

func TestSprinkle(t *testing.T) {
	m := NewMaker([]byte("decoy-secret-0123456789"), scanner())
	body := []byte(`{"item":3,"reviews":[{"user":{"id":1042,"nick":"wei","phone":"13912345678"},"rating":5,"text":"good"},{"user":{"id":7,"nick":"li","phone":"15800001111"},"rating":4,"text":"ok"}]}`)
	alice := identity.Key{Kind: identity.IP, Hash: 1}
	out, canaries, ok := m.Sprinkle(body, "reviews", alice, 1)
	if !ok || len(canaries) != 1 || !json.Valid(out) {
		t.Fatalf("sprinkle: ok=%v canaries=%v %s", ok, canaries, out)
	}
	var page struct {
		Reviews []struct {
			User struct {
				ID    int    `json:"id"`
				Phone string `json:"phone"`
			} `json:"user"`
		} `json:"reviews"`
	}
	json.Unmarshal(out, &page)
	if len(page.Reviews) != 3 {
		t.Fatalf("%d reviews after a sprinkle, want 3", len(page.Reviews))
	}
	c := page.Reviews[2].User
	if c.ID == 1042 || c.Phone == "13912345678" || c.Phone == "" || bytes.Contains(out[len(body)-10:], []byte(`"wei"`)) || strings.Count(string(out), `"good"`) != 1 {
		t.Fatalf("canary copies the template's values: %+v", c)
	}
	// The canary's hash, as a tracer would compute it from the value.
	var h uint64
	scanner().Scan([]byte(c.Phone), func(_ records.Kind, x uint64) { h = x })
	if h != canaries[0].Hash {
		t.Fatal("the issued hash is not what scanning the canary value gives")
	}
	// Another sequence number or actor: another canary.
	_, c2, _ := m.Sprinkle(body, "reviews", alice, 2)
	_, c3, _ := m.Sprinkle(body, "reviews", identity.Key{Kind: identity.IP, Hash: 2}, 1)
	if c2[0].Hash == canaries[0].Hash || c3[0].Hash == canaries[0].Hash {
		t.Fatal("canaries repeat across sequence numbers or actors")
	}
	if _, _, ok := m.Sprinkle([]byte(`{"reviews":[]}`), "reviews", alice, 1); ok {
		t.Fatal("sprinkled into an empty array")
	}
}

// Real-looking random data does not match canaries: the false match rate,
// measured. 10,000 canary phones issued; 1,000,000 random valid mobile
// numbers checked against them.
func TestFalseMatchRate(t *testing.T) {
	m := NewMaker([]byte("decoy-secret-0123456789"), scanner())
	sc := scanner().Lenient() // hashes as the validating scanner does (TestLenientScannerHashesAgree), without libphonenumber's cost
	issued := map[uint64]bool{}
	body := []byte(`{"reviews":[{"user":{"id":1,"nick":"a","phone":"13912345678"}}]}`)
	for seq := uint64(1); len(issued) < 10_000; seq++ {
		_, cs, ok := m.Sprinkle(body, "reviews", identity.Key{Kind: identity.IP, Hash: seq % 97}, seq)
		if !ok {
			t.Fatal("sprinkle failed")
		}
		for _, c := range cs {
			issued[c.Hash] = true
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	checked, matches := 0, 0
	for checked < 1_000_000 {
		n := fmt.Sprintf("%s%08d", mobilePrefixes[rng.IntN(len(mobilePrefixes))], rng.IntN(100_000_000))
		sc.Scan([]byte(n), func(_ records.Kind, h uint64) {
			checked++
			if issued[h] {
				matches++
			}
		})
	}
	// Expected by chance: 1e6 × 1e4 / (37 prefixes × 1e8) ≈ 2.7.
	t.Logf("%d matches among %d random valid numbers against %d canaries", matches, checked, len(issued))
	if matches > 10 {
		t.Fatalf("%d false matches, expected about 3", matches)
	}
}

// Regression: a decoy id drawn at random once equalled the real id (1 in
// 9,000 for four digits), serving the record the scraper was denied.
func TestDecoyIDNeverEqualsTheRealID(t *testing.T) {
	m := NewMaker([]byte("decoy-secret-0123456789"), scanner())
	for _, actor := range []identity.Key{{Kind: identity.IP, Hash: 1}, {Kind: identity.Account, Hash: 99}} {
		for id := 0; id < 20000; id++ {
			v := []byte(strconv.Itoa(id))
			if got := m.ReplaceID(v, actor); bytes.Equal(got, v) || len(got) != len(v) {
				t.Fatalf("ReplaceID(%s) = %s", v, got)
			}
		}
	}
	for _, v := range []string{"a", "Z", "9", "-", "u_7"} {
		got := m.ReplaceID([]byte(v), identity.Key{Kind: identity.IP, Hash: 5})
		if v != "-" && string(got) == v {
			t.Errorf("ReplaceID(%q) = %q", v, got)
		}
	}
}
