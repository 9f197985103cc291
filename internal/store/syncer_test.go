package store

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/canary"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/meter/memory"
	"github.com/leakguard/leakguard/internal/records"
)

// failing fails the first n writes, then writes to the real store.
type failing struct {
	*Store
	n int
}

func (f *failing) Write(b Batch) error {
	if f.n > 0 {
		f.n--
		return errors.New("disk full")
	}
	return f.Store.Write(b)
}

type drains struct{ batches [][]memory.Saved }

func (d *drains) Drain() ([]memory.Saved, uint64) {
	if len(d.batches) == 0 {
		return nil, 0
	}
	b := d.batches[0]
	d.batches = d.batches[1:]
	return b, 0
}

type ledger struct{ xs [][]canary.Issued }

func (l *ledger) Drain() []canary.Issued {
	if len(l.xs) == 0 {
		return nil
	}
	x := l.xs[0]
	l.xs = l.xs[1:]
	return x
}

// Regression: a flush that failed lost the actor states and canaries it
// had drained (only sanctions were kept), so a disk that recovered held
// stale budgets and an incomplete canary registry.
func TestFailedFlushLosesNothing(t *testing.T) {
	s, _, err := Open(t.TempDir(), meta, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Unix(1_800_000_000, 0)
	a := identity.Key{Kind: identity.IP, Hash: 1}
	b := identity.Key{Kind: identity.IP, Hash: 2}
	can := canary.Issued{Kind: records.Phone, Hash: 77, At: now.UnixNano(), Actor: identity.Actor{Keys: [identity.NumKinds]identity.Key{identity.IP: a}}}
	y := &Syncer{Store: &failing{Store: s, n: 2}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }, Retain: time.Hour,
		Meter: &drains{batches: [][]memory.Saved{
			{{Key: a, Last: now.UnixNano(), Data: []byte("a-old")}, {Key: b, Last: now.UnixNano(), Data: []byte("b")}},
			{{Key: a, Last: now.UnixNano(), Data: []byte("a-new")}},
		}},
		Canaries: &ledger{xs: [][]canary.Issued{{can}}},
	}
	y.Decided(engine.Decision{Action: engine.Block, Key: a, Rule: "user/ip/1h", Until: now.Add(time.Hour)})
	if y.Flush() == nil || y.Flush() == nil {
		t.Fatal("the failing disk did not fail")
	}
	if err := y.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Load(a)); got != "a-new" {
		t.Errorf("actor a: %q, want the newer state", got)
	}
	if got := string(s.Load(b)); got != "b" {
		t.Errorf("actor b: %q, lost by the failed flushes", got)
	}
	if _, ok := s.Canary(records.Phone, 77); !ok {
		t.Error("the canary issued before the failures is not in the registry")
	}
	if xs, _ := s.Sanctions(now.UnixNano()); len(xs) != 1 {
		t.Errorf("sanctions: %v", xs)
	}
	if st := y.Stats(); st.Errors != 2 || st.ActorsDropped != 0 || st.ActorsWritten != 3 {
		t.Errorf("stats %+v", st)
	}
}
