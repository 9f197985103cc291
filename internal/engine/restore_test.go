package engine

import (
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
)

func TestRestoreLearntWithinBounds(t *testing.T) {
	m := memory.New(memory.Options{Windows: []time.Duration{time.Hour}, Entities: 1, ExactUpTo: 16, MaxActors: 1000})
	e, err := New(m, Options{Entities: []string{"user"}, Budgets: []Budget{
		{ID: "learns", Entity: "user", Per: identity.Account, Window: time.Hour, Limit: 100, Action: Block, Learn: true},
		{ID: "fixed", Entity: "user", Per: identity.IP, Window: time.Hour, Limit: 100, Action: Block},
		{ID: "capped", Entity: "user", Per: identity.Session, Window: time.Hour, Limit: 100, Action: Block, Learn: true},
		{ID: "floored", Entity: "user", Per: identity.Crew, Window: time.Hour, Limit: 100, Action: Block, Learn: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	n := e.Restore(map[string]uint64{"learns": 250, "fixed": 900, "capped": 1e9, "floored": 3, "gone": 7})
	want := map[string]uint64{"learns": 250, "capped": 100 * LearnMax}
	got := e.Learned()
	if n != 3 || len(got) != len(want) || got["learns"] != want["learns"] || got["capped"] != want["capped"] {
		t.Fatalf("restored %d: learned %v, want 3 and %v (a fixed budget does not learn; a kept limit stays within [limit, %d×limit])", n, got, want, LearnMax)
	}
}
