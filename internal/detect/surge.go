package detect

import "math"

// Surges: people arrive on a running proxy as they wake up; a scraper
// that makes a fresh session for every few calls, each on the next
// address of its /24 and each loading a script first, arrives by the
// hundred a second (a sixth red team: 47,433 records in 30 s, never
// refused, 2026-12-02). Each of its sessions is a person by every measure
// of its first half minute, so the /24's per-person budget grew with
// every cycle, and session_churn, which waits a minute for an address's
// sessions to die young, came too late. While a network (/24, /48) has
// more young sessions making a first record call in the last surgeSpan
// than SurgeBirths, and than SurgeRatio times its own rate over the last
// hour (a busy carrier NAT's /24 has people arriving every second), its
// young sessions show session_churn: they are nobody behind the network,
// meet the plain limit on it and on their address, and a trip holds the
// young sessions only. A proxy's first minute is spared (surgeQuiet):
// when it starts or restarts, everyone already about arrives at once.
const (
	surgeSpan  = int64(10e9)
	surgeHour  = int64(3600e9)
	surgeQuiet = int64(60e9)
	// surgeFloor: a network rises with more births than this in a
	// surgeSpan (and SurgeRatio times its rate).
	surgeFloor = 2
	// surgeMinute and surgeMinuteBirths: more than surgeMinuteBirths
	// times SurgeBirths births on rising networks in the last
	// surgeMinute is a surge too. An eighth red team kept one /24 at a
	// time under fifty in 10 s, a fresh /24 every 30 s, and took 15,222
	// records in 90 s, refused from 70 s (2026-12-03).
	surgeMinute       = int64(60e9)
	surgeMinuteBirths = 2
)

// surgeState: the first record calls of a network's young sessions in
// the surgeSpan numbered at (since the epoch) and in the one before, and
// in the hour numbered hour and the one before.
type surgeState struct {
	at, hour           int32
	now, prev          uint16
	thisHour, lastHour uint32
	// the responses to the network's young sessions, and how many were
	// mostly cold (halved past 256)
	served, coldServed uint16
	// youthNow and youthPrev: its sessions born (first record call) in
	// the youngFor numbered youthAt and the one before; mature: those
	// born before, and grown: how many of those stayed (staysFor)
	youthAt                            int32
	youthNow, youthPrev, mature, grown uint16
	// rising: at its last young session's record call, the network was
	// rising (surge); what is shown there does not make records popular
	rising bool
}

// surge notes a young session's record request on network net at now
// (born: its first), and reports whether the network's sessions are
// being born faster than people arrive, and shown colder records than
// people are.
func (b *Behaviour) surge(net uint64, now int64, born bool) bool {
	start := b.startAt.Load()
	if start == 0 {
		b.startAt.CompareAndSwap(0, now)
		start = b.startAt.Load()
	}
	sh := &b.surges[net>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.get(net)
	if !ok && !born {
		return false
	}
	roll(&st.hour, int32(now/surgeHour), &st.thisHour, &st.lastHour)
	recent := st.births(now, born)
	surging, exp := false, b.expected()
	if now-start > surgeQuiet && b.SurgeBirths > 0 {
		// The births of the last surgeSpan (recent), against those of
		// the hour before them, as many spans' worth as the proxy has
		// run of it: a network new to a running proxy had none.
		hourly := spanned(float64(st.thisHour), float64(st.lastHour), now, surgeHour)
		before := max(hourly-recent, 0) * float64(surgeSpan) / float64(min(now-start, surgeHour))
		// A network rises with more than surgeFloor births, and surges
		// when the networks rising together have more than SurgeBirths:
		// a seventh red team spread the churner over ten /24s, each
		// under fifty, and took 44,361 records in 90 s unrefused; the
		// simulator's over 20-2,000 /24s, 140,831-1,874,365 in ten
		// minutes (2026-12-03). People who come at once from everywhere
		// come one or two to a /24. A network whose young sessions are
		// shown no colder records than people are does not rise: people
		// arriving on another /24 while a churner ran were held with it.
		st.rising = recent > surgeFloor && recent > b.SurgeRatio*before && (st.served == 0 || float64(st.coldServed) > exp*float64(st.served))
		if st.rising {
			b.anyRising.Store(true)
			span, minute := b.rise(now, born)
			surging = span > float64(b.SurgeBirths) || minute > float64(surgeMinuteBirths*b.SurgeBirths)
		}
	}
	// Held only while what the young sessions are shown is colder than
	// what people are: a flash crowd reads what people read. 600 people
	// arriving twenty a second on a /24 new to the proxy, reading
	// popular items, were all refused in their first half minute
	// without this (2026-12-02).
	held := surging && (colderThanPeople(uint32(st.coldServed), uint32(st.served), exp) || b.risingColder(exp))
	// A rising network's births are not its rate: counted in, the red
	// team's churner was its own rate 15 s on, and took 42,000 records
	// in the next 15 s (2026-12-02); an eighth's, kept under a surge on
	// each /24 in turn, was its own rate on each within 25 s (2026-12-03).
	if born && !st.rising {
		st.thisHour++
	}
	sh.put(net, st, b.shardCap)
	return held
}

// netChurn notes a young session's record call on network net at now
// (born: its first), or a session's first since it stayed (grew,
// staysFor), and reports, for the young one, whether the network's
// sessions do not outlive their youth: of those born a youth ago or more,
// 64 or more (halved past 256), 31 in 32 never stayed (as an address's,
// addrState.ephemeral). Sessions
// younger than that have not had the time: a crowd arriving on a network
// people have used for hours is all young.
func (b *Behaviour) netChurn(net uint64, now int64, born, grew bool) bool {
	sh := &b.surges[net>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.get(net)
	if !ok {
		return false
	}
	cur := max(int32(now/youngFor), st.youthAt) // events a little out of order stay in the period
	switch st.youthAt {
	case cur:
	case cur - 1:
		st.mature += st.youthPrev
		st.youthPrev, st.youthNow = st.youthNow, 0
	default:
		st.mature += st.youthPrev + st.youthNow
		st.youthPrev, st.youthNow = 0, 0
	}
	st.youthAt = cur
	switch {
	case grew:
		// counted when it grows, which is before its birth is mature
		st.grown = min(st.grown+1, st.mature+st.youthPrev+st.youthNow)
	case born:
		st.youthNow++
	}
	if st.mature > 256 {
		st.mature, st.grown = st.mature/2, st.grown/2
	}
	sh.put(net, st, b.shardCap)
	return !grew && st.mature >= 64 && 32*uint32(st.grown) < uint32(st.mature)
}

// births counts a birth at now (born) in st's surgeSpans and returns the
// births of the last surgeSpan: this span's, and the part of the last
// one's not yet a span ago.
func (st *surgeState) births(now int64, born bool) float64 {
	roll(&st.at, int32(now/surgeSpan), &st.now, &st.prev)
	if born {
		st.now = min(st.now+1, math.MaxUint16)
	}
	return spanned(float64(st.now), float64(st.prev), now, surgeSpan)
}

// pagelessBirths notes a pageless young session's record call at now on
// its address (k: the address's pagelessKey; born: its first) and
// returns how many such sessions were born there in the last surgeSpan.
func (b *Behaviour) pagelessBirths(k uint64, now int64, born bool) float64 {
	sh := &b.pageless[k>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.get(k)
	if !ok && !born {
		return 0
	}
	recent := st.births(now, born)
	sh.put(k, st, b.shardCap)
	return recent
}

// netRising reports whether network net was rising at its young
// sessions' last record call (surge).
func (b *Behaviour) netRising(net uint64) bool {
	if net == 0 || !b.anyRising.Load() {
		return false
	}
	sh := &b.surges[net>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, _ := sh.get(net)
	return st.rising
}

// rise notes a young session's record request at now (born: its first)
// on a rising network, and returns the births on rising networks in the
// last surgeSpan and in the last surgeMinute.
func (b *Behaviour) rise(now int64, born bool) (span, minute float64) {
	r := &b.rising
	r.Lock()
	defer r.Unlock()
	if cur := int32(now / surgeSpan); cur > r.at+1 {
		// an earlier surge's responses are not this one's
		r.served, r.coldServed = 0, 0
	}
	roll(&r.at, int32(now/surgeSpan), &r.now, &r.prev)
	roll(&r.minute, int32(now/surgeMinute), &r.thisMinute, &r.lastMinute)
	if born {
		r.now++
		r.thisMinute++
	}
	return spanned(float64(r.now), float64(r.prev), now, surgeSpan), spanned(float64(r.thisMinute), float64(r.lastMinute), now, surgeMinute)
}

// risingColder reports whether what the young sessions of rising
// networks are shown together is colder than what people are: a
// churner spread over a hundred /24s is shown a few dozen responses on
// each, too few to tell alone.
func (b *Behaviour) risingColder(exp float64) bool {
	r := &b.rising
	r.Lock()
	served, cold := r.served, r.coldServed
	r.Unlock()
	return colderThanPeople(cold, served, exp)
}

// spanned returns the count of the last span at now: this period's,
// and the part of the last period's (last) not yet a period ago.
func spanned(this, last float64, now, period int64) float64 {
	return this + last*float64(period-now%period)/float64(period)
}

// surgeServed notes a response to a young session on network net,
// mostly cold or not.
func (b *Behaviour) surgeServed(net uint64, mostlyCold uint16) {
	sh := &b.surges[net>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.get(net)
	if !ok {
		return
	}
	st.served++
	st.coldServed += mostlyCold
	if st.served > 256 {
		st.served, st.coldServed = st.served/2, st.coldServed/2
	}
	sh.put(net, st, b.shardCap)
	if st.rising {
		r := &b.rising
		r.Lock()
		r.served++
		r.coldServed += uint32(mostlyCold)
		if r.served > 4096 {
			r.served, r.coldServed = r.served/2, r.coldServed/2
		}
		r.Unlock()
	}
}

// client notes a record request at now of a client without a session or
// account (its fingerprint fp) on address addr, and returns its state
// there and whether this is its first record call there. Such a client
// is a person behind the address by its fingerprint, and a fresh
// User-Agent for each few calls made a seventh red team as many people
// over one /24: 47,547 records in 60 s, never refused (2026-12-02).
func (b *Behaviour) client(addr, fp uint64, now int64) (c clientState, born bool) {
	k := clientKey(addr, fp)
	sh := &b.clients[k>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c, ok := sh.get(k); ok {
		return c, false
	}
	c = clientState{first: now}
	sh.put(k, c, b.shardCap)
	b.anyClient.Store(true)
	return c, true
}

// clientAt returns the state of client fp on address addr, if it made a
// record call there (client).
func (b *Behaviour) clientAt(addr, fp uint64) (clientState, bool) {
	if !b.anyClient.Load() { // a log replay's, without sessions: never
		return clientState{}, false
	}
	k := clientKey(addr, fp)
	sh := &b.clients[k>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.get(k)
}

// markClient notes that client fp on address addr was held in a surge
// in its youth (surged), or called past its youth (grown).
func (b *Behaviour) markClient(addr, fp uint64, surged, grown bool) {
	k := clientKey(addr, fp)
	sh := &b.clients[k>>58]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c, ok := sh.get(k); ok {
		c.surged = c.surged || surged
		c.grown = c.grown || grown
		sh.put(k, c, b.shardCap)
	}
}

func clientKey(addr, fp uint64) uint64 { return mix(addr ^ mix(fp^0x51e55c11e47)) }

// clientState: when a client without a session or account first made a
// record call on an address (ns), and whether it was held in a surge in
// its youth.
type clientState struct {
	first  int64
	surged bool
	grown  bool // it called past its youth
}

// roll moves the counts of period *at (this, and last of the one before)
// on to period cur.
func roll[T uint16 | uint32](at *int32, cur int32, this, last *T) {
	// An event a little out of order (a proxy's goroutines, a log's
	// lines) stays in the period.
	cur = max(cur, *at)
	switch cur {
	case *at:
	case *at + 1:
		*last, *this = *this, 0
	default:
		*last, *this = 0, 0
	}
	*at = cur
}
