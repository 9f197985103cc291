// Package sim runs leakguard's scenarios in simulated event time: legitimate
// shoppers and scraping campaigns against the synthetic shop, through the
// same engine and policy the proxy uses, with the network skipped. Thirty
// days run in seconds; the same seed gives the same result.
package sim

import (
	"container/heap"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/pipeline"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/shop"
)

// Start is the simulated clock's origin.
var Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// Route kinds a simulated request can take.
const (
	RoutePage    = iota // an item's HTML page (ID homePage: the home page): no records
	RouteAsset          // a static asset
	RouteReviews        // an item's reviews: reviewer ids and phones
	RouteProfile        // a user's profile: the user and their phone
	RouteLookup         // contact lookup by phone: a user, or a miss
)

// homePage is the ID of a RoutePage request for the home page, which is
// about no item (items are numbered from 1).
const homePage = 0

var routeNames = [...]string{"GET /items/{id}", "GET /static/{file}", "GET /api/items/{id}/reviews", "GET /api/users/{id}", "GET /api/lookup"}

// Request is one simulated request.
type Request struct {
	At    time.Time
	Actor identity.Actor
	Route int
	ID    int  // item or user id
	Hit   bool // lookups: whether the number belongs to a user
	IP    uint32
	UA    detect.UAClass
	// Click: a person opening what the response before it showed (a
	// reviewer): not made when that response was refused
	Click bool
}

var routeKinds = [...]detect.Kind{detect.Page, detect.Asset, detect.Record, detect.Record, detect.Record}

// Addr is the request's client address.
func (r *Request) Addr() netip.Addr {
	return netip.AddrFrom4([4]byte{byte(r.IP >> 24), byte(r.IP >> 16), byte(r.IP >> 8), byte(r.IP)})
}

// World is the shop the traffic runs against.
type World struct {
	Shop      *shop.Shop
	Zipf      *shop.Zipf
	reviewers [][]int32 // by item
	// entity indexes of the policy's catalog; -1 when not metered
	User, Phone int
}

// NewWorld builds the shop's data the simulation needs.
func NewWorld(seed uint64, users, items int) *World {
	w := &World{Shop: shop.New(seed, users, items), Zipf: shop.NewZipf(items, 1.1), User: -1, Phone: -1}
	w.reviewers = make([][]int32, items+1)
	for id := 1; id <= items; id++ {
		for _, r := range w.Shop.Reviews(id) {
			w.reviewers[id] = append(w.reviewers[id], int32(r.User.ID))
		}
	}
	return w
}

// Reviewers returns the ids of item id's reviewers.
func (w *World) Reviewers(id int) []int32 { return w.reviewers[id] }

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// records appends what a request is served, as the proxy's catalog would
// find it: users by id, and their phones by the PII scan.
func (w *World) records(r *Request, out []records.Found) []records.Found {
	w.users(r, func(uid int) {
		if w.User >= 0 {
			out = append(out, records.Found{Entity: w.User, Hash: mix(uint64(uid) ^ 0x05e7), Item: uint16(1 + uid&0xff)})
		}
		if w.Phone >= 0 {
			out = append(out, records.Found{Entity: w.Phone, Hash: mix(uint64(uid) ^ 0x9404e)})
		}
	})
	return out
}

// Recommended is what the home page recommends to a's session
// (shop.Shop.Recommended, by its session's key), as the live shop does
// by the session's cookie; its widget asks about the first.
func (w *World) Recommended(a *identity.Actor) []int {
	return w.Shop.Recommended(a.Keys[identity.Session].Hash)
}

// homeNames is the items the home page served to a names (detect.Names).
func (w *World) homeNames(a *identity.Actor) (n detect.Names) {
	for _, id := range w.Recommended(a) {
		n.Add(1 + id&0xff) // as detect.PathID reads /items/{id}
	}
	return n
}

// users calls fn with the id of each user a request is served.
func (w *World) users(r *Request, fn func(uid int)) {
	switch r.Route {
	case RouteReviews:
		for _, u := range w.reviewers[r.ID] {
			fn(int(u))
		}
	case RouteProfile:
		fn(r.ID)
	case RouteLookup:
		if r.Hit {
			fn(r.ID)
		}
	}
}

// Outcome tells a source what became of its request.
type Outcome struct {
	Refused bool
	Records int
	// Crowd: the request carried stranger_crowd (reported, not held
	// unless weighed)
	Crowd bool
}

// Source is a stream of requests in time order.
type Source interface {
	// Next returns the source's next request, or false when it is done.
	Next() (Request, bool)
	// Done reports the outcome of the request Next last returned.
	Done(Request, Outcome)
}

// Run feeds every source's requests, merged in time order, through the
// detector and the engine, and reports outcomes back. It stops at until.
// RunStats is what Run saw besides each source's outcomes.
type RunStats struct {
	Requests int
	// StrangersColder: the simulated time the detector said strangers
	// were shown colder records than regulars (sampled each minute)
	StrangersColder time.Duration
	// ItemsPaged: the simulated time the shop read as one whose items
	// have pages (sampled each minute)
	ItemsPaged time.Duration
}

func Run(w *World, e *engine.Engine, d *detect.Detector, sources []Source, until time.Time) (rs RunStats) {
	pipe := pipeline.Pipeline{Detector: d, Engine: e}
	h := &queue{}
	for i, s := range sources {
		if r, ok := s.Next(); ok {
			heap.Push(h, item{r, i})
		}
	}
	var recs []records.Found
	var nextLook time.Time
	for h.Len() > 0 {
		it := heap.Pop(h).(item)
		r := it.req
		if r.At.After(until) {
			continue
		}
		rs.Requests++
		if !r.At.Before(nextLook) {
			nextLook = r.At.Add(time.Minute)
			if d.Strangers().Colder {
				rs.StrangersColder += time.Minute
			}
			if d.ItemsPaged() {
				rs.ItemsPaged += time.Minute
			}
		}
		var out Outcome
		route := routeNames[r.Route]
		kind := routeKinds[r.Route]
		low := -1
		if r.Route == RouteProfile {
			low = r.ID & 0xff
		}
		var pathID int
		if r.Route == RouteProfile || r.Route == RouteReviews || r.Route == RoutePage && r.ID != homePage {
			pathID = 1 + r.ID&0xff // as the proxy reads /api/users/{id}, /api/items/{id}/reviews and /items/{id}
		}
		var lookup uint64
		if r.Route == RouteLookup {
			lookup = mix(uint64(r.ID) ^ 0x9404e) // the number asked for: a user's phone record when it is a hit
			if !r.Hit {
				lookup = mix(uint64(r.ID) ^ 0x5e55) // a number nobody has
			}
		}
		recRoute := ""
		if kind == detect.Record {
			recRoute = route
		}
		tr := detect.Traits{Kind: kind, UA: r.UA, Addr: r.Addr(), At: r.At.UnixNano(), IDLow: low, PathID: pathID, Lookup: lookup}
		if kind == detect.Record {
			tr.Route = int(r.Route) + 1
		}
		v := pipe.Admit(r.At, &r.Actor, &tr, recRoute, false)
		out.Crowd = v.Signals&detect.StrangerCrowd != 0
		if v.Enforced() || v.Decoyed() {
			out.Refused = true // a decoyed scraper takes no real records
		} else if r.Route == RoutePage && r.ID == homePage {
			// What the proxy reads in the home page it serves: the items
			// it recommends to the session (shop.Shop.Recommended).
			names := w.homeNames(&r.Actor)
			d.PageNamed(&r.Actor, &names)
		} else {
			recs = w.records(&r, recs[:0])
			miss := r.Route == RouteLookup && !r.Hit
			pipe.Observe(r.At, &r.Actor, engine.Exchange{Route: route, Records: recs, Miss: miss, Signals: v.Signals})
			out.Records = countUsers(recs, w.User)
		}
		s := sources[it.src]
		s.Done(r, out)
		if next, ok := s.Next(); ok {
			heap.Push(h, item{next, it.src})
		}
	}
	return rs
}

// countUsers counts the user records served: each person once per response.
func countUsers(recs []records.Found, user int) int {
	n := 0
	for _, r := range recs {
		if r.Entity == user {
			n++
		}
	}
	return n
}

type item struct {
	req Request
	src int
}

type queue []item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].req.At.Equal(q[j].req.At) {
		return q[i].req.At.Before(q[j].req.At)
	}
	return q[i].src < q[j].src // deterministic ties
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// Addresses and keys. A simulated address is a uint32; keys are hashes of it,
// as the proxy's would be.
func ipKeys(a *identity.Actor, ip uint32) {
	a.Keys[identity.IP] = identity.Key{Kind: identity.IP, Hash: mix(uint64(ip) | 1<<40)}
	a.Keys[identity.Net] = identity.Key{Kind: identity.Net, Hash: mix(uint64(ip>>8) | 2<<40)}
}

func setKey(a *identity.Actor, k identity.Kind, v uint64) {
	if v == 0 {
		a.Keys[k] = identity.Key{}
		return
	}
	a.Keys[k] = identity.Key{Kind: k, Hash: mix(v | uint64(k+3)<<56)}
}

func ip4(a, b, c, d int) uint32 { return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d) }

func expDur(rng *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(rng.ExpFloat64() * float64(mean))
}
