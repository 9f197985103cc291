package analyze

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/kamstrup/intmap"

	"github.com/leakguard/leakguard/internal/identity"
)

// linked reports whether keys of kind k are tied to the other keys of the
// lines they appear on. A fingerprint is a browser build shared by many
// people, so a scraper's fingerprint says nothing of anyone else behind it.
func linked(k int) bool { return k != int(identity.Fingerprint) }

// linkSmall is how many keys a set holds in a list before it becomes
// sets per kind: most keys meet one or two others (a person's address,
// account and session), and a set costs hundreds of bytes.
const linkSmall = 12

// keySet is a set of keys, at most maxMembers of each kind (a crew of a
// million rotating addresses keeps the first 10,000).
type keySet struct {
	small []identity.Key
	// big holds, past linkSmall, each kind's key hashes in a flat
	// open-addressing set (8 bytes a key at most 7/10 full): a Go map of
	// the keys, or of a word per key with its kind beside it, took twice
	// that, and links were an eighth of a 38M-line replay's heap.
	big *[identity.NumKinds]*intmap.Set[uint64]
	n   [identity.NumKinds]uint32
}

func (s *keySet) add(k identity.Key) {
	if s.n[k.Kind] >= maxMembers {
		return
	}
	if s.big != nil {
		if s.addBig(k) {
			s.n[k.Kind]++
		}
		return
	}
	// The newest is the likeliest to repeat: a key's lines come in runs.
	for i := len(s.small) - 1; i >= 0; i-- {
		if s.small[i] == k {
			return
		}
	}
	s.n[k.Kind]++
	if len(s.small) < linkSmall {
		s.small = append(s.small, k)
		return
	}
	s.big = new([identity.NumKinds]*intmap.Set[uint64])
	for _, x := range append(s.small, k) {
		s.addBig(x)
	}
	s.small = nil
}

// addBig adds k to its kind's set, and reports whether it was new.
func (s *keySet) addBig(k identity.Key) bool {
	set := s.big[k.Kind]
	if set == nil {
		set = intmap.NewSet[uint64](linkSmall)
		s.big[k.Kind] = set
	}
	return set.Add(k.Hash)
}

func (s *keySet) each(f func(identity.Key)) {
	for _, k := range s.small {
		f(k)
	}
	if s.big == nil {
		return
	}
	for kind, set := range s.big {
		if set == nil {
			continue
		}
		set.ForEach(func(h uint64) bool {
			f(identity.Key{Kind: identity.Kind(kind), Hash: h})
			return true
		})
	}
}

// link ties every linked key of a line to the others, and counts the
// people behind its address and /24: the accounts, sessions and browsers
// seen on requests that do not behave like a scraper's (those carry a
// crew key), as the engine's per-person budgets count them.
func (a *Analyzer) link(act *identity.Actor, acs *[identity.NumKinds]*actor) {
	person := act.Keys[identity.Crew].Hash == 0
	line := lineHash(act)
	for kind, k := range act.Keys {
		ac := acs[kind]
		if k.Hash == 0 || !linked(kind) || ac == nil { // nil: another shard pass's key
			continue
		}
		// A key's lines come in runs with the same other keys (a
		// person's address, account and session): adding them again
		// changes no set.
		if ac.lastLine == line {
			continue
		}
		ac.lastLine = line
		for other, o := range act.Keys {
			if other != kind && o.Hash != 0 && linked(other) {
				ac.links.add(o)
			}
		}
		if person && (kind == int(identity.IP) || kind == int(identity.Net)) {
			for _, pk := range []identity.Kind{identity.Account, identity.Session, identity.Fingerprint} {
				if o := act.Keys[pk]; o.Hash != 0 {
					if ac.people == nil {
						ac.people = &keySet{}
					}
					ac.people.add(o)
				}
			}
		}
	}
}

// persons is the people seen behind an address or /24 (at least one).
func (ac *actor) persons() int {
	if ac.people == nil {
		return 1
	}
	return max(1, int(ac.people.n[identity.Account]), int(ac.people.n[identity.Session]), int(ac.people.n[identity.Fingerprint]))
}

// lineHash mixes the keys of a line into one word, which each key keeps
// of the last line it linked: the keys themselves were 48 bytes a key, on
// logs of millions of keys. The key hashes are keyed, so lines cannot be
// made to collide; by chance, two lines do one time in 2^64, and then a
// link is missed.
func lineHash(act *identity.Actor) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, k := range act.Keys {
		h = (h ^ k.Hash) * 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	return h
}

// remember keeps the raw value of a line's address, account and session,
// only when the operator asked for them (--reveal): otherwise the report,
// like the proxy, holds keyed hashes only.
func (a *Analyzer) remember(ev *event) {
	if !a.o.Reveal {
		return
	}
	for _, r := range []struct {
		kind identity.Kind
		val  func() string
	}{
		{identity.IP, func() string { return identity.HostString(ev.addr) }},
		{identity.Account, func() string { return ev.account }},
		{identity.Session, func() string { return ev.session }},
	} {
		k := ev.act.Keys[r.kind]
		if k.Hash == 0 || !a.own(k) {
			continue
		}
		if _, ok := a.raw[k]; !ok {
			a.raw[k] = r.val()
		}
	}
}

// Revealed is what an investigator needs of a suspect (with --reveal): the
// raw addresses, accounts and sessions of the key and of every key seen on
// the same requests (a crew's every address), at most 10,000 of each.
type Revealed struct {
	IPs      []string `json:"ips"`
	Accounts []string `json:"accounts"`
	Sessions []string `json:"sessions"`
}

func (a *Analyzer) revealed(ac *actor) *Revealed {
	if !a.o.Reveal {
		return nil
	}
	r := &Revealed{IPs: []string{}, Accounts: []string{}, Sessions: []string{}}
	add := func(k identity.Key) {
		v, ok := a.raw[k]
		if !ok {
			return
		}
		switch k.Kind {
		case identity.IP:
			if len(r.IPs) < maxMembers {
				r.IPs = append(r.IPs, v)
			}
		case identity.Account:
			if len(r.Accounts) < maxMembers {
				r.Accounts = append(r.Accounts, v)
			}
		case identity.Session:
			if len(r.Sessions) < maxMembers {
				r.Sessions = append(r.Sessions, v)
			}
		}
	}
	add(ac.key)
	ac.links.each(add)
	slices.SortFunc(r.IPs, func(x, y string) int {
		ax, ex := netip.ParseAddr(x)
		ay, ey := netip.ParseAddr(y)
		if ex != nil || ey != nil {
			return strings.Compare(x, y)
		}
		return ax.Compare(ay)
	})
	slices.Sort(r.Accounts)
	slices.Sort(r.Sessions)
	return r
}
