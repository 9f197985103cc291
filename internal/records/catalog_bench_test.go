package records

import (
	"testing"

	"github.com/leakguard/leakguard/internal/keyed"
)

// BenchmarkMatchRecordLine is what analyze does with the path of every
// log line (bench/genlog's routes): the catalog's match, and the matched
// route's name for the line's decisions, which analyze keeps.
//
//	go test -run '^$' -bench MatchRecordLine ./internal/records
func BenchmarkMatchRecordLine(b *testing.B) {
	c, err := NewCatalog(Spec{Routes: []RouteSpec{
		{Route: "GET /api/users/{id}", Entity: "user"},
		{Route: "GET /api/users/{id}/addresses", Entity: "user"},
		{Route: "GET /api/orders/{id}", Entity: "order"},
	}}, keyed.New([]byte("0123456789abcdef")))
	if err != nil {
		b.Fatal(err)
	}
	paths := []string{"/api/users/1234", "/api/orders/99812", "/api/users/77/addresses", "/static/app.js"}
	var names int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := c.Match("GET", paths[i%len(paths)])
		if m.Route() >= 0 {
			names += len(c.RouteName(m.Route()))
		}
	}
	if names == 0 {
		b.Fatal("no route matched")
	}
}
