package detect

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/records"
)

func rec(id uint64) []records.Found { return []records.Found{{Entity: 0, Hash: mix(id)}} }

func TestColdSweepMustAndMustNotTrip(t *testing.T) {
	b := NewBehaviour(1000)
	b.ColdWarmup = 0 // popularity is known: the test serves it below
	sweeper := identity.Key{Kind: identity.IP, Hash: 1}
	person := identity.Key{Kind: identity.IP, Hash: 2}
	others := identity.Key{Kind: identity.IP, Hash: 3}
	// Popular records: many people have been served ids 1..20.
	for i := 0; i < 50; i++ {
		for id := uint64(1); id <= 20; id++ {
			b.Served(others, origin{}, rec(id))
		}
	}
	now := int64(0)
	for i := 0; i < 100; i++ {
		now += int64(time.Second)
		b.signalsOf(person, now, true, -1)
		b.Served(person, origin{}, rec(uint64(1+i%20))) // popular ones
		b.signalsOf(sweeper, now, true, -1)
		b.Served(sweeper, origin{}, rec(uint64(100_000+i))) // the long tail, in order
	}
	if s := b.signalsOf(sweeper, now, false, -1); s&ColdSweep == 0 {
		t.Errorf("sweeper: %s", s)
	}
	if s := b.signalsOf(person, now, false, -1); s&ColdSweep != 0 {
		t.Errorf("person on popular records: %s", s)
	}
	// Fewer than ColdMin records say nothing.
	b2 := NewBehaviour(1000)
	b2.ColdWarmup = 0
	for i := 0; i < int(b2.ColdMin)-1; i++ {
		b2.Served(sweeper, origin{}, rec(uint64(500_000+i)))
	}
	if s := b2.signalsOf(sweeper, now, false, -1); s&ColdSweep != 0 {
		t.Errorf("%d cold records: %s", b2.ColdMin-1, s)
	}
}

// A sweep spread over thousands of addresses, each too small to stand
// out, still raises the platform-wide cold share.
func TestPlatformColdShare(t *testing.T) {
	b := NewBehaviour(100_000)
	for i := 0; i < 20_000; i++ { // people on popular records
		b.Served(identity.Key{Kind: identity.IP, Hash: uint64(1 + i%500)}, origin{}, rec(uint64(1+i%50)))
	}
	before := b.ColdShare()
	for i := 0; i < 20_000; i++ { // 2,000 addresses, 10 records each, all long tail
		b.Served(identity.Key{Kind: identity.IP, Hash: uint64(10_000 + i%2000)}, origin{}, rec(uint64(1_000_000+i)))
	}
	after := b.ColdShare()
	if before > 0.05 || after < 0.4 {
		t.Fatalf("cold share %.2f before the distributed sweep, %.2f during", before, after)
	}
	for i := 0; i < 2000; i++ {
		if s := b.signalsOf(identity.Key{Kind: identity.IP, Hash: uint64(10_000 + i)}, 0, false, -1); s&ColdSweep != 0 {
			t.Fatalf("address %d of the spread sweep stands out alone", i)
		}
	}
}

func TestMachineTimingMustAndMustNotTrip(t *testing.T) {
	b := NewBehaviour(1000)
	bot := identity.Key{Kind: identity.IP, Hash: 1}
	human := identity.Key{Kind: identity.IP, Hash: 2}
	rng := rand.New(rand.NewPCG(1, 2))
	tb, th := int64(0), int64(0)
	var sb, sh Signals
	for i := 0; i < 30; i++ {
		tb += int64(640 * time.Millisecond)
		sb = b.signalsOf(bot, tb, true, -1)
		th += int64(5*time.Second) + int64(rng.ExpFloat64()*float64(25*time.Second))
		sh = b.signalsOf(human, th, true, -1)
	}
	if sb&MachineTiming == 0 {
		t.Errorf("a request every 640ms: %s", sb)
	}
	if sh&MachineTiming != 0 {
		t.Errorf("human pauses: %s", sh)
	}
	// A little jitter (±2%) is still a timer.
	j := identity.Key{Kind: identity.IP, Hash: 3}
	tj := int64(0)
	var sj Signals
	for i := 0; i < 30; i++ {
		tj += int64(time.Second) + int64((rng.Float64()-0.5)*0.04*float64(time.Second))
		sj = b.signalsOf(j, tj, true, -1)
	}
	if sj&MachineTiming == 0 {
		t.Errorf("1s ±2%%: %s", sj)
	}
}

func TestSequentialIDsMustAndMustNotTrip(t *testing.T) {
	b := NewBehaviour(1000)
	walker := identity.Key{Kind: identity.IP, Hash: 1}
	reader := identity.Key{Kind: identity.IP, Hash: 2}
	var sw, sr Signals
	for i := 0; i < 30; i++ {
		sw = b.signalsOf(walker, int64(i), true, (1000+i*2)&0xff) // every other id, wrapping past 255
		sr = b.signalsOf(reader, int64(i), true, int(mix(uint64(i))&0xff))
	}
	if sw&SequentialIDs == 0 {
		t.Errorf("ids in order: %s", sw)
	}
	if sr&SequentialIDs != 0 {
		t.Errorf("ids at random: %s", sr)
	}
	// Requests without an id leave the run alone; a jump resets it.
	b.signalsOf(walker, 40, true, -1)
	if s := b.signalsOf(walker, 41, true, 7); s&SequentialIDs != 0 {
		t.Errorf("after a jump: %s", s)
	}
}

func TestHeaderMismatch(t *testing.T) {
	d := New(Options{})
	a := actor(1, 0, 5)
	if s := d.Assess(&a, Traits{Kind: Record, UA: UABrowser, MissingBrowserHeaders: true}); s&HeaderMismatch == 0 {
		t.Errorf("browser UA without Accept-Language: %s", s)
	}
	if s := d.Assess(&a, Traits{Kind: Record, UA: UABrowser}); s&HeaderMismatch != 0 {
		t.Errorf("browser with its headers: %s", s)
	}
	if s := d.Assess(&a, Traits{Kind: Record, UA: UAOther, MissingBrowserHeaders: true}); s&HeaderMismatch != 0 {
		t.Errorf("an app that does not claim a browser: %s", s)
	}
}

func TestUnshownLookupsMustAndMustNotTrip(t *testing.T) {
	b := NewBehaviour(1000)
	guesser := identity.Key{Kind: identity.IP, Hash: 1}
	friend := identity.Key{Kind: identity.IP, Hash: 2}
	// The values the platform served: phones 1..100, shown in reviews.
	for id := uint64(1); id <= 100; id++ {
		b.Served(identity.Key{Kind: identity.IP, Hash: 3}, origin{}, rec(id))
	}
	var sg, sf Signals
	for i := 0; i < 40; i++ {
		sg = b.lookup(guesser, mix(uint64(1_000_000+i))) // numbers from elsewhere
		sf = b.lookup(friend, mix(uint64(1+i)))          // people seen on the platform
	}
	if sg&UnshownLookups == 0 {
		t.Errorf("40 lookups of never-served values: %s", sg)
	}
	if sf != 0 {
		t.Errorf("lookups of served values: %s", sf)
	}
	// A person's handful of lookups of contacts from their phone book.
	p := identity.Key{Kind: identity.IP, Hash: 4}
	for i := 0; i < 5; i++ {
		if s := b.lookup(p, mix(uint64(2_000_000+i))); s != 0 {
			t.Errorf("5 lookups: %s", s)
		}
	}
}

// A proxy just started has served nothing: every record is cold, and a
// shopper's first pages would look like a sweep. Until ColdWarmup records
// have been served, cold_sweep does not fire.
func TestColdSweepWaitsForWarmup(t *testing.T) {
	b := NewBehaviour(1000)
	shopper := identity.Key{Kind: identity.IP, Hash: 7}
	for i := 0; i < 100; i++ {
		b.Served(shopper, origin{}, rec(uint64(700_000+i)))
	}
	if s := b.signalsOf(shopper, 0, false, -1); s&ColdSweep != 0 {
		t.Fatalf("cold sweep %d records after start: %s", 100, s)
	}
	others := identity.Key{Kind: identity.IP, Hash: 8}
	for i := uint64(0); i < b.ColdWarmup; i++ {
		b.Served(others, origin{}, rec(i%50))
	}
	if s := b.signalsOf(shopper, 0, false, -1); s&ColdSweep == 0 {
		t.Fatalf("warm, 100 cold records: %s", s)
	}
}

// Rapid: a person reads; eight record requests under two seconds apart
// are a script's pace, whatever their jitter.
func TestRapidPace(t *testing.T) {
	b := NewBehaviour(1000)
	fast, slow := identity.Key{Kind: identity.IP, Hash: 9}, identity.Key{Kind: identity.IP, Hash: 10}
	rng := rand.New(rand.NewPCG(1, 2))
	var tf, ts int64
	var sf, ss Signals
	for range 20 {
		tf += int64(200*time.Millisecond) + rng.Int64N(int64(time.Second))
		ts += int64(4*time.Second) + rng.Int64N(int64(20*time.Second))
		sf, ss = b.signalsOf(fast, tf, true, -1), b.signalsOf(slow, ts, true, -1)
	}
	if sf&Rapid == 0 || ss&Rapid != 0 {
		t.Fatalf("fast %s, slow %s", sf, ss)
	}
}

// signalsOf is signals for a record request (record) or a look (not one).
func (b *Behaviour) signalsOf(k identity.Key, now int64, record bool, low int) Signals {
	s, _ := b.signals(k, origin{}, now, record, false, low)
	return s
}

// A record nobody was shown reads as cold however busy the platform: just
// before the sketch halves, with a million (record, address) pairs served
// since the last halving, records never served still read as shown to at
// most one address (1,000 of 1,000 here). At 65,536 counters a row, counts
// stood near 16 everywhere by then and none did (0 of 1,000), so a
// session swarm's profiles, random and never shown to anyone, were not
// cold: with the edge's JA4 logged, 0 of its 2,500 addresses flagged in a
// two-day log replay (TestAnalyzeLoggedJA4FlagsTheSessionSwarm), 2,499
// now.
func TestAnUnshownRecordStaysColdOnABusyPlatform(t *testing.T) {
	b := NewBehaviour(1 << 10)
	for i := range uint64(halveEvery - 1) {
		b.bump(mix(i ^ 0x5eed))
	}
	cold := 0
	for i := range uint64(1000) {
		if b.estimate(mix(i|1<<40)) <= b.ColdMax { // never served: the served are under 2^20
			cold++
		}
	}
	t.Logf("%d of 1,000 records never served read as cold", cold)
	if cold < 900 {
		t.Errorf("%d of 1,000 records never served read as cold after %d served, want 900 or more", cold, halveEvery-1)
	}
	// and one shown to many addresses is not
	for range 5 {
		b.bump(0xabcdef)
	}
	if b.estimate(0xabcdef) <= b.ColdMax {
		t.Errorf("a record shown five times reads as cold")
	}
}

// On a small shop that many browse every record has been shown to a few
// addresses within a minute, and "shown to at most one before" tells
// nothing from anything: the demo's crews, starting once its shop was
// warm, found half their responses cold against people's tenth and took
// thousands of records more than at a start (page-crew 12,519 live, then
// 4,952). Cold is the tail of what people are shown: here 15% of people's
// responses are of a tail each record of which three addresses were
// shown, the rest of records everyone was shown. A sweep of that tail is
// cold; a person shown middling records (six addresses) is not.
func TestColdIsTheTailOfWhatPeopleAreShown(t *testing.T) {
	b := NewBehaviour(1 << 12)
	b.ColdWarmup = 0
	const tail = 1 << 16
	showTail(b, tail, 3)
	peopleShown(b, 400, func(i, c int) []records.Found {
		if (i+c)%20 < 3 { // 15% of responses: three of the tail's records
			var recs []records.Found
			for j := range 3 {
				recs = append(recs, rec(1<<30+uint64(i*60+c*3+j)%tail)...)
			}
			return recs
		}
		// what everyone is shown, one of eight pages' records: the same
		// response again is nothing new (servedAgain)
		p := uint64(c % 8)
		return append(append(rec(1+p), rec(9+p)...), rec(17+p)...)
	})
	if got := b.coldThreshold(); got != 3 {
		t.Fatalf("cold is at most %d addresses shown before; people's tail records had been shown to three", got)
	}
	// a sweep of that tail, from an address of its own
	sweeper := identity.Key{Kind: identity.Session, Hash: 0x5eeb}
	o := origin{addr: 0xadd}
	var s Signals
	for c := range 8 {
		s, _ = b.signals(sweeper, o, epoch+int64(time.Hour)+int64(c)*5e9, true, false, -1)
		b.Served(sweeper, o, append(append(rec(1<<30+uint64(c)*997%tail), rec(1<<30+uint64(c)*991%tail+7)...), rec(1<<30+uint64(c)*983%tail+11)...))
	}
	if s&ColdSweep == 0 {
		t.Errorf("a sweep of records three addresses were shown, when people's are 85%% shown to all: %s, want cold_sweep", s)
	}
	// a person shown middling records, six addresses each before
	for id := range uint64(64) {
		for a := range uint64(6) {
			b.Served(identity.Key{Kind: identity.IP, Hash: mix(0x31dd1e + a)}, origin{addr: mix(a + 1<<51)}, rec(1<<31+id))
		}
	}
	person := identity.Key{Kind: identity.Session, Hash: 0x9e0}
	for c := range 8 {
		s, _ = b.signals(person, origin{addr: 0x9e1}, epoch+int64(2*time.Hour)+int64(c)*5e9, true, false, -1)
		b.Served(person, origin{addr: 0x9e1}, append(rec(1<<31+uint64(2*c)), rec(1<<31+uint64(2*c+1))...))
	}
	if s&ColdSweep != 0 {
		t.Errorf("a person shown records six addresses were shown: %s, want no cold_sweep", s)
	}
}

// A review found that one key at a person's pace, asking for the same
// popular records every five seconds, moved the threshold to fourteen
// addresses when each record it was shown counted, and every shopper was
// then a cold sweep. A key counts a response once, and only its 8th to
// 72nd.
func TestOnePacedKeyDoesNotSetWhatIsCold(t *testing.T) {
	b := NewBehaviour(1 << 12)
	b.ColdWarmup = 0
	showTail(b, 1<<16, 5)
	for id := range uint64(200) { // the popular, 20 addresses each
		for a := range uint64(20) {
			b.Served(identity.Key{Kind: identity.IP, Hash: mix(0xb0b + a)}, origin{addr: mix(a + 1<<52)}, rec(1<<32+id))
		}
	}
	attacker := identity.Key{Kind: identity.Session, Hash: 0xa77}
	var popular []records.Found
	for id := range uint64(20) {
		popular = append(popular, rec(1<<32+id)...)
	}
	n := 0
	peopleShown(b, 400, func(i, c int) []records.Found {
		// between people's calls, the attacker's: a page and the list
		at := epoch + int64(n)*5e9
		n++
		b.signals(attacker, origin{addr: 0xa78}, at-1e9, false, true, -1)
		b.signals(attacker, origin{addr: 0xa78}, at, true, false, -1)
		b.Served(attacker, origin{addr: 0xa78}, popular)
		if (i+c)%10 < 3 { // 30% of people's responses: a catalogue record five addresses were shown
			return rec(1<<30 + uint64(i*20+c))
		}
		return rec(1<<32 + uint64(c%200))
	})
	if got := b.coldThreshold(); got != b.ColdMax {
		t.Errorf("cold is at most %d addresses shown before, want %d: 30%% of people's responses are of records five were shown", got, b.ColdMax)
	}
}

// showTail shows every record of a tail of n (ids from 1<<30) to k
// addresses.
func showTail(b *Behaviour, n int, k uint64) {
	for id := range uint64(n) {
		for a := range k {
			b.Served(identity.Key{Kind: identity.IP, Hash: mix(0x7a11 + id%64)}, origin{addr: mix(a + 1<<50)}, rec(1<<30+id))
		}
	}
}

// peopleShown has people people, each a session on an address of its own
// loading a page and making a record call every 5 s, twenty calls each,
// served what served(person, call) returns.
func peopleShown(b *Behaviour, people int, served func(i, c int) []records.Found) {
	for i := range people {
		k := identity.Key{Kind: identity.Session, Hash: mix(uint64(i) + 1<<44)}
		o := origin{addr: mix(uint64(i) + 1<<45)}
		for c := range 20 {
			at := epoch + int64(c)*5e9
			b.signals(k, o, at-1e9, false, true, -1)
			b.signals(k, o, at, true, false, -1)
			b.Served(k, o, served(i, c))
		}
	}
}

// coldThreshold is coldMax, read under its lock.
func (b *Behaviour) coldThreshold() uint16 {
	b.cmsMu.Lock()
	defer b.cmsMu.Unlock()
	return max(b.coldMax, b.ColdMax)
}

func TestColdMaxFor(t *testing.T) {
	for _, tt := range []struct {
		name  string
		h     map[int]uint32
		least uint16
		want  uint16
	}{
		{"a busy platform: 30% of people's responses of records never shown before", map[int]uint32{0: 300, 1: 100, 5: 600}, 1, 1},
		{"a busy platform: 10% never shown, 90% shown to many", map[int]uint32{0: 100, coldHistLen - 1: 900}, 1, 1},
		{"a small shop: everything shown to a few", map[int]uint32{2: 50, 3: 100, 4: 300, 9: 550}, 1, 3},
		{"a gap: its bottom, not its top", map[int]uint32{2: 200, 8: 800}, 1, 2},
		{"a few strays in the gap", map[int]uint32{2: 150, 7: 5, coldHistLen - 1: 845}, 1, 2},
		{"all shown to the most counted", map[int]uint32{coldHistLen - 1: 1000}, 1, 1},
		{"least kept", map[int]uint32{5: 1000}, 6, 6},
		{"nothing counted", map[int]uint32{}, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h [coldHistLen]uint32
			var total uint32
			for v, n := range tt.h {
				h[v] = n
				total += n
			}
			if got := coldMaxFor(&h, total, tt.least); got != tt.want {
				t.Errorf("coldMaxFor = %d, want %d", got, tt.want)
			}
		})
	}
}

// The operator's word that the shop is a single-page app: its items have
// no pages whatever the sessions that stay vote (a crew can vote either
// way), and a session that loaded its page and calls on with nothing
// loaded around shows no early api_heavy: live, demo --spa had 1,288
// shoppers' requests challenged in the crews sweeping beside them
// (2026-12-04).
func TestASinglePageAppsPeopleAreNotAPIHeavy(t *testing.T) {
	for _, spa := range []bool{false, true} {
		b := NewBehaviour(1 << 10)
		b.SinglePageApp = spa
		for n := range 16 {
			b.countFirst(uint64(1+n), true, 0)
		}
		if got := b.itemsPaged(); got == spa {
			t.Errorf("single-page app %v: items paged %v", spa, got)
		}
		k := identity.Key{Kind: identity.Session, Hash: 7}
		o := origin{addr: 9}
		b.pageServed(k, 0) // the app's page
		var ev evidence
		for c := range 4 {
			_, ev = b.signals(k, o, epoch+int64(c)*5e9, true, false, -1)
		}
		if got := ev.early&APIHeavy != 0; got == spa {
			t.Errorf("single-page app %v: early api_heavy %v after four calls", spa, got)
		}
	}
}

// A single-page app's people load the app's page once and call the API
// with nothing loaded around: until 2026-12-04 they were never at a
// person's pace (a page or asset for every two calls), people's share
// was only the few paged keys', and people, colder than that, were
// recruited into crews of their own browser build (live demo --spa: 911
// of 930 shoppers' requests challenged so). On a shop not known to have
// item pages they are what people are shown.
func TestASinglePageAppsPeopleAreWhatPeopleAreShown(t *testing.T) {
	for _, paged := range []bool{false, true} {
		b := NewBehaviour(1 << 12)
		if paged { // the shop's people elsewhere load items' pages, far more of them
			for n := range 1000 {
				b.countFirst(uint64(1+n), true, 0)
			}
		}
		for i := range 200 {
			k := identity.Key{Kind: identity.Session, Hash: mix(uint64(i) + 1<<44)}
			o := origin{addr: mix(uint64(i) + 1<<45)}
			o.page = true
			b.signals(k, o, epoch-1e9, false, true, -1) // the app's page
			o.page = false
			for c := range 5 {
				b.signals(k, o, epoch+int64(c)*5e9, true, false, -1)
				b.Served(k, o, rec(uint64(c))) // popular: every person is shown it
			}
		}
		if _, measured := b.people(); measured == paged {
			t.Errorf("items paged %v: people's share measured %v after 200 people of a single-page app", paged, measured)
		}
	}
}

// An app loads no pages: its calls are never api_heavy, as they are not
// no_assets. An outside red team's app users (two calls a screen, some
// of them long-tail items) were enlisted into the sweepers' crew while it
// was challenged, 17 to 28 a run (live, 2026-12-06); the website's
// sessions that call the same way still show it.
func TestAnAppsCallsAreNotAPIHeavy(t *testing.T) {
	for _, tc := range []struct {
		name            string
		app, apiClients bool
		heavy           bool
	}{
		{"the operator's app", true, false, false},
		{"a website session", false, false, true},
		// pages served from elsewhere: every session is an app's to the
		// proxy (the red team's people with api_clients on were blocked
		// for a day with a crew)
		{"a website session, pages served elsewhere (api_clients)", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBehaviour(1 << 12)
			people(b, 6)
			d := New(Options{Behaviour: b, APIClients: tc.apiClients})
			a := actor(0x0a000001, mix(0xa99), 0xf1)
			var s Signals
			for i := range 24 {
				at := epoch + int64(i/2)*3e9 + int64(i%2)*2e8 // two calls a screen, a screen every 3 s
				s |= d.Assess(&a, Traits{Kind: Record, UA: UABrowser, App: tc.app, At: at, IDLow: -1, PathID: 1 + 7000 + i})
				d.Served(&a, rec(uint64(1<<30+i)))
			}
			if got := s&APIHeavy != 0; got != tc.heavy {
				t.Fatalf("api_heavy %v, want %v (signals %s)", got, tc.heavy, s)
			}
		})
	}
}
