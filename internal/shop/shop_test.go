package shop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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

// The home page recommends each visitor their own popular items, the
// same on every load of their session, and its widget asks about the
// first: what people who land there ask about.
func TestHomePageRecommendsPopularItemsPerVisitor(t *testing.T) {
	s := New(7, 1000, 2000)
	home := func(sid string) string {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		return w.Body.String()
	}
	a, b := home("alice"), home("bob")
	if a != home("alice") {
		t.Fatal("a visitor's recommendations change between loads")
	}
	if a == b {
		t.Fatal("two visitors are recommended the same items")
	}
	rec := s.Recommended(hashString("alice"))
	if len(rec) != Recommendations {
		t.Fatalf("%d items recommended, want %d", len(rec), Recommendations)
	}
	for _, id := range rec {
		if !strings.Contains(a, fmt.Sprintf(`href="/items/%d"`, id)) {
			t.Fatalf("item %d recommended but not linked: %s", id, a)
		}
	}
	if !strings.Contains(a, fmt.Sprintf(`data-src="/api/items/%d/reviews"`, rec[0])) {
		t.Fatalf("the widget does not ask about the first recommended item %d", rec[0])
	}
	// By popularity: across visitors, most recommendations are among the
	// hundred most popular of 2,000 items.
	top := 0
	for v := range uint64(200) {
		for _, id := range s.Recommended(v) {
			if id <= 100 {
				top++
			}
		}
	}
	if top < 200*Recommendations/2 {
		t.Fatalf("%d of %d recommendations among the 100 most popular items", top, 200*Recommendations)
	}
}
