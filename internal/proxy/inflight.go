package proxy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
)

// inFlight caps the record requests each address, session and account has
// in flight at once. A budget is checked when a request arrives and its
// records are counted when its body has been served, so every request
// admitted in between is served on the same count: one session with 300
// connections open on a review route took 1,600 records against a budget
// of 300 (a red team, 2026-12-02), and a slower upstream or a larger page
// widens the gap. Past its cap a key's next request waits for one of its
// own to be metered, then is admitted on the new count; people are slowed
// at worst, never refused, and a budget is overshot by at most the cap's
// responses.
type inFlight struct {
	perKey, perAddress int
	wait               time.Duration

	mu   sync.Mutex
	keys map[identity.Key]*flight
}

type flight struct {
	n    int
	free chan struct{} // closed when n falls, for the requests waiting
}

// errInFlight says a request waited longer than the bound for a slot.
var errInFlight = errors.New("too many record requests in flight")

func newInFlight(perKey, perAddress int, wait time.Duration) *inFlight {
	if perKey <= 0 && perAddress <= 0 {
		return nil
	}
	return &inFlight{perKey: perKey, perAddress: perAddress, wait: wait, keys: map[identity.Key]*flight{}}
}

// capOf is the cap of keys of kind k, 0 for none.
func (f *inFlight) capOf(k identity.Kind) int {
	switch k {
	case identity.IP:
		return f.perAddress
	case identity.Session, identity.Account:
		return f.perKey
	}
	return 0
}

// acquire takes a slot on each capped key of a, waiting while any is full
// (all or none are taken, so two requests never hold each other's). It
// reports whether it waited, and returns the release to call once the
// request is metered.
func (f *inFlight) acquire(ctx context.Context, a *identity.Actor) (release func(), waited bool, err error) {
	if f == nil {
		return func() {}, false, nil
	}
	var timer <-chan time.Time
	for {
		f.mu.Lock()
		var full *flight
		for kind, k := range a.Keys {
			if c := f.capOf(identity.Kind(kind)); c > 0 && k.Hash != 0 {
				if fl := f.keys[k]; fl != nil && fl.n >= c {
					full = fl
					break
				}
			}
		}
		if full == nil {
			for kind, k := range a.Keys {
				if f.capOf(identity.Kind(kind)) > 0 && k.Hash != 0 {
					fl := f.keys[k]
					if fl == nil {
						fl = &flight{}
						f.keys[k] = fl
					}
					fl.n++
				}
			}
			f.mu.Unlock()
			keys := a.Keys
			return func() { f.release(&keys) }, waited, nil
		}
		if full.free == nil {
			full.free = make(chan struct{})
		}
		free := full.free
		f.mu.Unlock()
		if timer == nil {
			t := time.NewTimer(f.wait)
			defer t.Stop()
			timer = t.C
		}
		waited = true
		select {
		case <-free:
		case <-timer:
			return nil, true, errInFlight
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
}

func (f *inFlight) release(keys *[identity.NumKinds]identity.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for kind, k := range keys {
		if f.capOf(identity.Kind(kind)) == 0 || k.Hash == 0 {
			continue
		}
		fl := f.keys[k]
		if fl == nil {
			continue
		}
		fl.n--
		if fl.free != nil {
			close(fl.free)
			fl.free = nil
		}
		if fl.n <= 0 && fl.free == nil {
			delete(f.keys, k)
		}
	}
}
