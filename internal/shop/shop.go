// Package shop is a synthetic e-commerce API full of (made-up) personal data:
// users with names, mainland-China mobile numbers and addresses; items whose
// reviews embed the reviewer's id, nickname and phone, like the comments the
// Taobao crawler took; and a contact lookup by phone, like the feature
// Facebook lost 533 million numbers through. Every record is derived from
// the seed and its id, so the shop holds no data and is reproducible.
package shop

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Shop is the synthetic shop.
type Shop struct {
	Seed  uint64
	Users int
	Items int
	pop   *Zipf // the items' popularity: what the home page recommends
}

// New returns a shop with the given number of users and items.
func New(seed uint64, users, items int) *Shop {
	return &Shop{Seed: seed, Users: users, Items: items, pop: NewZipf(max(items, 1), 1.1)}
}

// Recommendations is how many items the home page recommends.
const Recommendations = 12

// Recommended is what the home page recommends to a visitor (a hash of
// their session cookie; 0 for none): Recommendations items drawn by
// popularity, as a shop's recommendations follow what people buy, each
// visitor their own. Its widget shows the first one's reviews.
func (s *Shop) Recommended(visitor uint64) []int {
	rng := rand.New(rand.NewPCG(s.Seed, visitor))
	ids := make([]int, 0, Recommendations)
	for try := 0; len(ids) < min(Recommendations, s.Items) && try < 20*Recommendations; try++ {
		if id := s.pop.Sample(rng); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// User is a shop user.
type User struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	Nick    string `json:"nick"`
	Phone   string `json:"phone"`
	Email   string `json:"email"`
	Address string `json:"address"`
}

// Reviewer is the part of a user shown beside a review.
type Reviewer struct {
	ID    int    `json:"id"`
	Nick  string `json:"nick"`
	Phone string `json:"phone"`
}

// Review is one review of an item.
type Review struct {
	User   Reviewer `json:"user"`
	Rating int      `json:"rating"`
	Text   string   `json:"text"`
}

// Item is a product.
type Item struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Price string `json:"price"`
}

func mix(x uint64) uint64 { // splitmix64
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

var (
	surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"}
	given    = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平", "刚", "桂英"}
	nicks    = []string{"cat", "panda", "moon", "tea", "rain", "sky", "leaf", "fish", "star", "snow", "wind", "river"}
	// mobile prefixes that libphonenumber accepts for CN
	mobilePrefixes = []string{"130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156", "157", "158", "159", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "199"}
	cities         = []string{"杭州市西湖区", "上海市浦东新区", "北京市朝阳区", "广州市天河区", "深圳市南山区", "成都市武侯区", "南京市鼓楼区", "武汉市洪山区"}
	adjectives     = []string{"Soft", "Classic", "Portable", "Smart", "Mini", "Deluxe", "Eco", "Silk"}
	nouns          = []string{"Tea Set", "Phone Case", "Backpack", "Lamp", "Scarf", "Kettle", "Headphones", "Notebook"}
	reviewTexts    = []string{"很好，物流很快", "质量不错", "和描述一致", "性价比高", "还可以", "包装很好", "会回购的", "颜色很正"}
)

// User returns user id (1..Users), and false if there is no such user.
func (s *Shop) User(id int) (User, bool) {
	if id < 1 || id > s.Users {
		return User{}, false
	}
	r := mix(s.Seed ^ uint64(id)*0x100000001b3)
	name := surnames[r%uint64(len(surnames))] + given[(r>>8)%uint64(len(given))]
	nick := nicks[(r>>16)%uint64(len(nicks))] + strconv.Itoa(int((r>>24)%10000))
	return User{
		ID:      id,
		Name:    name,
		Nick:    nick,
		Phone:   s.Phone(id),
		Email:   fmt.Sprintf("%s.%d@example.com", nick, id),
		Address: fmt.Sprintf("%s文三路%d号", cities[(r>>40)%uint64(len(cities))], (r>>48)%500+1),
	}, true
}

// Phone returns user id's mobile number: distinct per user, valid per libphonenumber.
func (s *Shop) Phone(id int) string {
	r := mix(s.Seed ^ uint64(id)*0x100000001b3)
	p := mobilePrefixes[(r>>32)%uint64(len(mobilePrefixes))]
	// 8 subscriber digits from the id itself, scrambled by the seed: distinct for ids < 10^8
	sub := (uint64(id)*2654435761 + s.Seed) % 100_000_000
	return fmt.Sprintf("%s%08d", p, sub)
}

// Item returns item id (1..Items).
func (s *Shop) Item(id int) (Item, bool) {
	if id < 1 || id > s.Items {
		return Item{}, false
	}
	r := mix(s.Seed ^ uint64(id)*0xcbf29ce484222325)
	return Item{
		ID:    id,
		Title: adjectives[r%uint64(len(adjectives))] + " " + nouns[(r>>8)%uint64(len(nouns))],
		Price: fmt.Sprintf("%d.%02d", 5+(r>>16)%500, (r>>32)%100),
	}, true
}

// Reviews returns item id's reviews: 3 to 12, by users chosen from the item.
func (s *Shop) Reviews(id int) []Review {
	r := mix(s.Seed ^ uint64(id)*0xcbf29ce484222325 ^ 0x5eed)
	n := 3 + int(r%10)
	out := make([]Review, 0, n)
	for i := 0; i < n; i++ {
		ri := mix(r + uint64(i))
		uid := int(ri%uint64(s.Users)) + 1
		u, _ := s.User(uid)
		out = append(out, Review{
			User:   Reviewer{ID: u.ID, Nick: u.Nick, Phone: u.Phone},
			Rating: 1 + int((ri>>20)%5),
			Text:   reviewTexts[(ri>>28)%uint64(len(reviewTexts))],
		})
	}
	return out
}

// LookupPhone returns the user with a phone number, as a contact-lookup feature does.
func (s *Shop) LookupPhone(phone string) (User, bool) {
	phone = strings.TrimPrefix(strings.TrimPrefix(phone, "+86"), "86")
	if len(phone) != 11 {
		return User{}, false
	}
	sub, err := strconv.ParseUint(phone[3:], 10, 64)
	if err != nil {
		return User{}, false
	}
	// invert sub = (id*2654435761 + seed) mod 1e8: 2654435761 is odd and not
	// divisible by 5, so it has an inverse mod 1e8.
	const mod = 100_000_000
	inv := modInverse(2654435761%mod, mod)
	id := int(((sub + mod - s.Seed%mod) % mod) * inv % mod)
	u, ok := s.User(id)
	if !ok || u.Phone != phone {
		return User{}, false
	}
	return u, true
}

func modInverse(a, m uint64) uint64 {
	// extended Euclid on signed values
	t, newT := int64(0), int64(1)
	r, newR := int64(m), int64(a)
	for newR != 0 {
		q := r / newR
		t, newT = newT, t-q*newT
		r, newR = newR, r-q*newR
	}
	if t < 0 {
		t += int64(m)
	}
	return uint64(t)
}

// Handler serves the shop's API, pages and assets.
func (s *Shop) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		u, ok := s.User(id)
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, u)
	})
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		it, ok := s.Item(id)
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, it)
	})
	mux.HandleFunc("GET /api/items/{id}/reviews", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		if _, ok := s.Item(id); !ok {
			notFound(w)
			return
		}
		writeJSON(w, struct {
			Item    int      `json:"item"`
			Reviews []Review `json:"reviews"`
		}{id, s.Reviews(id)})
	})
	mux.HandleFunc("GET /api/lookup", func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.LookupPhone(r.URL.Query().Get("phone"))
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, struct {
			ID   int    `json:"id"`
			Nick string `json:"nick"`
		}{u.ID, u.Nick})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		if user == "" {
			user = "guest"
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: fmt.Sprintf("%016x", mix(s.Seed^uint64(len(user))^hashString(user))), Path: "/", HttpOnly: true})
		writeJSON(w, map[string]string{"ok": "true"})
	})
	mux.HandleFunc("GET /static/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write([]byte("document.title += ' · shop';\n"))
	})
	mux.HandleFunc("GET /static/app.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write([]byte("body{font-family:sans-serif}\n"))
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		it, ok := s.Item(id)
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>%s</title><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js"></script></head><body><h1>%s</h1><p>¥%s</p><div id="reviews" data-src="/api/items/%d/reviews"></div></body></html>`, it.Title, it.Title, it.Price, it.ID)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		var visitor uint64
		if c, err := r.Cookie("sid"); err == nil {
			visitor = hashString(c.Value)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		fmt.Fprintf(&b, `<!doctype html><html><head><title>shop</title><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js"></script></head><body><h1>Synthetic shop</h1><p>%d users, %d items. All data is made up.</p><h2>Recommended for you</h2><ul>`, s.Users, s.Items)
		rec := s.Recommended(visitor)
		for _, id := range rec {
			if it, ok := s.Item(id); ok {
				fmt.Fprintf(&b, `<li><a href="/items/%d">%s</a> ¥%s</li>`, id, it.Title, it.Price)
			}
		}
		b.WriteString(`</ul>`)
		if len(rec) > 0 {
			fmt.Fprintf(&b, `<div id="reviews" data-src="/api/items/%d/reviews"></div>`, rec[0])
		}
		b.WriteString(`</body></html>`)
		io.WriteString(w, b.String())
	})
	return mux
}

func hashString(s string) uint64 {
	var h uint64 = 0xcbf29ce484222325
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	return h
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"error":"not found"}`))
}
