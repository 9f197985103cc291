package shop

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestPhonesAreValidDistinctAndLookupInverts(t *testing.T) {
	s := New(42, 20000, 100)
	seen := map[string]int{}
	for id := 1; id <= s.Users; id++ {
		p := s.Phone(id)
		if prev, dup := seen[p]; dup {
			t.Fatalf("users %d and %d share %s", prev, id, p)
		}
		seen[p] = id
		if id%97 == 0 { // libphonenumber is slow: check a sample
			n, err := phonenumbers.Parse(p, "CN")
			if err != nil || !phonenumbers.IsValidNumber(n) || phonenumbers.GetNumberType(n) != phonenumbers.MOBILE {
				t.Fatalf("user %d phone %s is not a valid CN mobile", id, p)
			}
		}
		if u, ok := s.LookupPhone(p); !ok || u.ID != id {
			t.Fatalf("lookup of user %d's phone gave %v %v", id, u.ID, ok)
		}
	}
	if _, ok := s.LookupPhone("13800000000"); ok && s.Users < 1000 {
		t.Error("lookup of an unknown number succeeded")
	}
}

func TestDeterministic(t *testing.T) {
	a, b, c := New(1, 100, 10), New(1, 100, 10), New(2, 100, 10)
	ua, _ := a.User(5)
	ub, _ := b.User(5)
	uc, _ := c.User(5)
	if ua != ub || ua == uc {
		t.Error("same seed must give the same data, another seed other data")
	}
	if _, ok := a.User(101); ok {
		t.Error("user beyond Users exists")
	}
}

func TestHandler(t *testing.T) {
	h := New(1, 100, 10).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/items/3/reviews", nil))
	var page struct {
		Reviews []Review `json:"reviews"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &page) != nil || len(page.Reviews) < 3 || page.Reviews[0].User.Phone == "" {
		t.Fatalf("reviews: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/api/users/0", "/api/users/101", "/api/items/11/reviews", "/api/lookup?phone=1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 404 {
			t.Errorf("%s: %d, want 404", path, rec.Code)
		}
	}
}
