// Command genlog writes a synthetic, API-heavy access log for benchmarking
// `leakguard analyze`: an nginx combined log with the account and the
// session appended, in time order, deterministic by seed.
//
//	go run ./bench/genlog -lines 5000000 -seed 1 -o api.log
//	go run ./bench/genlog -lines 38000000 -files 20 -o 'access-%02d.log.gz'
//	go run ./bench/genlog -print-format
//
// Its log_format (for `analyze --format nginx` and GoAccess) is
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $http_x_account $cookie_sid
//
// What is in it, by default (fractions of lines):
//   - people (about 300,000 by default, a tenth of them regulars who come
//     back often), each with a home address, or behind one of 300 carrier
//     NAT addresses (a fifth of them), 70% logged in. A web visit is a page,
//     its assets, then profiles and orders at reading pace; an app visit
//     (40% of visits) is API calls only. Profiles are drawn Zipf-like from
//     2M users: people look at the popular ones.
//   - search crawlers (Googlebot, bingbot, AhrefsBot): ~3%, pages only.
//   - health checks from the load balancer: ~1%.
//   - a few scraping campaigns, each in its own stretch of the log: a
//     python-requests sweep from one address, a 40-account crew on 40
//     addresses with browser headers, a residential swarm of thousands of
//     addresses (five profiles each) and a low-and-slow crew of 500
//     addresses. Together ~3% of the lines.
//
// Record routes (GET /api/users/{id}, /api/users/{id}/addresses and
// /api/orders/{id}) are about three quarters of the lines. The config that
// matches is printed by -print-config.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// LogFormat is the nginx log_format of the generated lines.
const LogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $http_x_account $cookie_sid`

// Config is a leakguard config whose records routes match the log.
const Config = `upstream: http://127.0.0.1:1
records:
  - route: GET /api/users/{id}
    entity: user
  - route: GET /api/users/{id}/addresses
    entity: user
  - route: GET /api/orders/{id}
    entity: order
budgets:
  - {entity: user, per: ip, window: 1h, limit: 1000, action: block}
  - {entity: user, per: account, window: 1d, limit: 2000, action: block}
`

var browsers = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
	"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
}

var apps = []string{
	"ShopApp/5.2.1 (iPhone; iOS 17.1; Scale/3.00)",
	"ShopApp/5.2.0 (Android 14; Pixel 8)",
	"ShopApp/5.1.9 (Android 13; SM-S911B)",
}

var crawlers = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
}

type options struct {
	lines    int64
	seed     uint64
	people   int
	users    int
	perDay   int64
	start    time.Time
	files    int
	out      string
	campaign bool
}

func main() {
	var o options
	var start string
	var printFormat, printConfig bool
	flag.Int64Var(&o.lines, "lines", 1_000_000, "lines to write")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed and flags give the same bytes")
	flag.IntVar(&o.people, "people", 300_000, "people in the population (each with an address or a NAT, 70% with an account)")
	flag.IntVar(&o.users, "users", 2_000_000, "user profiles that can be read")
	flag.Int64Var(&o.perDay, "per-day", 2_000_000, "lines per day: sets the time span")
	flag.StringVar(&start, "start", "2026-11-01", "first day (UTC)")
	flag.IntVar(&o.files, "files", 1, "split into this many files in time order (-o must hold a %d verb); .gz names are gzipped")
	flag.StringVar(&o.out, "o", "-", "output file (- for stdout; a .gz name is gzipped)")
	flag.BoolVar(&o.campaign, "campaigns", true, "merge in the scraping campaigns")
	flag.BoolVar(&printFormat, "print-format", false, "print the log_format and exit")
	flag.BoolVar(&printConfig, "print-config", false, "print a leakguard config matching the log and exit")
	flag.Parse()
	if printFormat {
		fmt.Println(LogFormat)
		return
	}
	if printConfig {
		fmt.Print(Config)
		return
	}
	t, err := time.Parse("2006-01-02", start)
	if err != nil {
		fatal(fmt.Errorf("-start: %w", err))
	}
	o.start = t
	if o.files < 1 || o.lines < 1 || o.people < 1000 || o.users < 1000 || o.perDay < 1000 {
		fatal(fmt.Errorf("-files, -lines, -people, -users and -per-day must be positive (people, users, per-day at least 1000)"))
	}
	if o.files > 1 && !strings.Contains(o.out, "%") {
		fatal(fmt.Errorf("-files %d needs an -o name with a %%d verb", o.files))
	}
	if err := run(o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "genlog:", err)
	os.Exit(2)
}

// output is one file being written.
type output struct {
	f  *os.File
	zw *gzip.Writer
	bw *bufio.Writer
}

func create(name string) (*output, error) {
	o := &output{f: os.Stdout}
	if name != "-" {
		f, err := os.Create(name)
		if err != nil {
			return nil, err
		}
		o.f = f
	}
	var w io.Writer = o.f
	if strings.HasSuffix(name, ".gz") {
		o.zw, _ = gzip.NewWriterLevel(o.f, gzip.BestSpeed)
		w = o.zw
	}
	o.bw = bufio.NewWriterSize(w, 1<<20)
	return o, nil
}

func (o *output) close() error {
	err := o.bw.Flush()
	if o.zw != nil {
		if e := o.zw.Close(); err == nil {
			err = e
		}
	}
	if o.f != os.Stdout {
		if e := o.f.Close(); err == nil {
			err = e
		}
	}
	return err
}

func run(o options) error {
	g := newGen(o)
	per := (o.lines + int64(o.files) - 1) / int64(o.files)
	var buf []byte
	for f := 0; f < o.files; f++ {
		name := o.out
		if o.files > 1 {
			name = fmt.Sprintf(o.out, f)
		}
		out, err := create(name)
		if err != nil {
			return err
		}
		for i := int64(0); i < per && g.n < o.lines; i++ {
			buf = g.line(buf[:0])
			if _, err := out.bw.Write(buf); err != nil {
				return err
			}
		}
		if err := out.close(); err != nil {
			return err
		}
	}
	return nil
}

// person is one of the population.
type person struct {
	home    uint32 // IPv4 address; 0: behind a carrier NAT
	account int32  // -1: not logged in
	ua      uint8
}

// visit is a person's run of requests.
type visit struct {
	who     int32
	addr    uint32
	sess    uint64
	app     bool
	left    int16
	started bool
}

// campaign is one scraper in its stretch of the log.
type campaign struct {
	name       string
	from, to   float64 // fraction of the log's lines
	share      float64 // of the lines while active
	addrs      []uint32
	accounts   []string
	ua         string
	sequential bool
	next       int
	perAddr    int // swarm: requests per address before moving on
	used       int
}

type gen struct {
	o        options
	rng      *rand.Rand
	n        int64
	now      time.Time
	step     float64 // mean seconds between lines
	carry    float64
	people   []person
	nats     []uint32
	visits   []visit
	zipf     *rand.Zipf
	camps    []*campaign
	stamp    []byte
	stampSec int64
}

func newGen(o options) *gen {
	rng := rand.New(rand.NewPCG(o.seed, 0x1eacc0a4d))
	g := &gen{o: o, rng: rng, now: o.start, step: 86400 / float64(o.perDay)}
	g.zipf = rand.NewZipf(rng, 1.07, 8, uint64(o.users-1))
	for i := 0; i < 300; i++ { // carrier NAT addresses in 100.64.0.0/10
		g.nats = append(g.nats, 100<<24|64<<16|uint32(i/250)<<8|uint32(1+i%250))
	}
	g.people = make([]person, o.people)
	for i := range g.people {
		p := person{account: -1, ua: uint8(rng.IntN(len(browsers)))}
		if rng.IntN(5) > 0 {
			p.home = publicAddr(rng)
		}
		if rng.IntN(10) < 7 {
			p.account = int32(i)
		}
		g.people[i] = p
	}
	// concurrent visits: enough that a visit's requests are tens of
	// seconds apart at the chosen rate
	nv := max(64, int(float64(o.perDay)/86400*30))
	g.visits = make([]visit, nv)
	for i := range g.visits {
		g.newVisit(&g.visits[i])
	}
	if o.campaign {
		g.camps = g.campaigns()
	}
	return g
}

// publicAddr is an address outside the reserved ranges the campaigns and
// NATs use.
func publicAddr(rng *rand.Rand) uint32 {
	for {
		a := rng.Uint32()
		b := a >> 24
		if b == 0 || b == 10 || b == 100 || b == 127 || b >= 224 || b == 45 || b == 203 || b == 198 || b == 192 || b == 172 {
			continue
		}
		return a
	}
}

func (g *gen) campaigns() []*campaign {
	rng := rand.New(rand.NewPCG(g.o.seed, 0xca4a1941))
	chrome := browsers[0]
	c := []*campaign{
		{name: "python", from: 0.62, to: 0.64, share: 0.05, addrs: []uint32{203<<24 | 0<<16 | 113<<8 | 66},
			ua: "python-requests/2.31.0", sequential: true, next: 1_000_000},
		{name: "account-crew", from: 0.10, to: 0.90, share: 0.015, ua: chrome},
		{name: "swarm", from: 0.30, to: 0.34, share: 0.04, ua: chrome, perAddr: 5},
		{name: "low-and-slow", from: 0.05, to: 0.95, share: 0.004, ua: browsers[2]},
	}
	for i := 0; i < 40; i++ {
		c[1].addrs = append(c[1].addrs, 45<<24|uint32(10+i%5)<<16|7<<8|uint32(20+i))
		c[1].accounts = append(c[1].accounts, "member"+strconv.Itoa(9000+i))
	}
	for i := 0; i < 500; i++ {
		c[3].addrs = append(c[3].addrs, uint32(150+rng.IntN(50))<<24|rng.Uint32()&0xffff00|uint32(1+rng.IntN(254)))
	}
	return c
}

func (g *gen) newVisit(v *visit) {
	// a tenth of the people are regulars and make half the visits
	var who int
	if g.rng.IntN(2) == 0 {
		who = g.rng.IntN(max(1, len(g.people)/10))
	} else {
		who = g.rng.IntN(len(g.people))
	}
	p := &g.people[who]
	*v = visit{who: int32(who), addr: p.home, sess: g.rng.Uint64(), app: g.rng.IntN(10) < 4}
	if p.home == 0 {
		v.addr = g.nats[g.rng.IntN(len(g.nats))]
	}
	// most visits are short, a few people read a lot
	v.left = int16(3 + g.rng.IntN(20))
	if g.rng.IntN(50) == 0 {
		v.left = int16(60 + g.rng.IntN(200))
	}
}

// line appends the next line to b.
func (g *gen) line(b []byte) []byte {
	g.n++
	// Exponential gaps around the mean rate, with a day's rhythm (busier
	// in the evening): the clock only moves forward.
	hour := float64(g.now.Hour()) + float64(g.now.Minute())/60
	busy := 1 + 0.6*math.Sin((hour-14)/24*2*math.Pi)
	g.carry += g.rng.ExpFloat64() * g.step / busy
	if g.carry >= 1 {
		whole := math.Floor(g.carry)
		g.now = g.now.Add(time.Duration(whole) * time.Second)
		g.carry -= whole
	}
	frac := float64(g.n) / float64(g.o.lines)
	r := g.rng.Float64()
	for _, c := range g.camps {
		if frac >= c.from && frac < c.to {
			if r < c.share {
				return g.campaignLine(b, c)
			}
			r -= c.share
		}
	}
	switch {
	case r < 0.03:
		return g.crawlerLine(b)
	case r < 0.04:
		return g.emit(b, 10<<24|1, "GET", "/healthz", 200, 2, "-", "ELB-HealthChecker/2.0", "-", "-")
	}
	return g.visitLine(b)
}

func (g *gen) visitLine(b []byte) []byte {
	v := &g.visits[g.rng.IntN(len(g.visits))]
	p := &g.people[v.who]
	account := "-"
	if p.account >= 0 {
		account = "u" + strconv.Itoa(int(p.account))
	}
	sess := strconv.FormatUint(v.sess, 36)
	ua := browsers[p.ua]
	if v.app {
		ua = apps[int(p.ua)%len(apps)]
	}
	var path []byte
	method, status, size := "GET", 200, 512+g.rng.IntN(3000)
	switch {
	case !v.app && !v.started:
		v.started = true
		path = strconv.AppendInt(append(path, "/items/"...), int64(1+g.rng.IntN(50_000)), 10)
		size = 20_000 + g.rng.IntN(40_000)
	case !v.app && g.rng.IntN(8) == 0:
		path = append(path, [...]string{"/static/app.js", "/static/app.css", "/favicon.ico"}[g.rng.IntN(3)]...)
		size = 30_000
	case g.rng.IntN(25) == 0:
		method, status, size = "POST", 201, 80
		path = append(path, "/api/cart"...)
	case g.rng.IntN(10) == 0 && p.account >= 0:
		// the person's own orders
		path = strconv.AppendInt(append(path, "/api/orders/"...), int64(p.account)*7+int64(g.rng.IntN(7)), 10)
	default:
		id := int64(1 + g.zipf.Uint64())
		path = strconv.AppendInt(append(path, "/api/users/"...), id, 10)
		if g.rng.IntN(6) == 0 {
			path = append(path, "/addresses"...)
		}
		if g.rng.IntN(100) == 0 {
			status, size = 404, 60 // a deleted profile
		}
	}
	b = g.emit(b, v.addr, method, string(path), status, size, "-", ua, account, sess)
	if v.left--; v.left <= 0 {
		g.newVisit(v)
	}
	return b
}

func (g *gen) crawlerLine(b []byte) []byte {
	i := g.rng.IntN(len(crawlers))
	addr := [...]uint32{66<<24 | 249<<16 | 64<<8, 40<<24 | 77<<16 | 167<<8, 54<<24 | 36<<16 | 148<<8}[i] | uint32(1+g.rng.IntN(120))
	path := "/items/" + strconv.Itoa(1+g.rng.IntN(50_000))
	if g.rng.IntN(3) == 0 {
		path = "/u/" + strconv.Itoa(1+g.rng.IntN(g.o.users)) // public profile pages, HTML
	}
	return g.emit(b, addr, "GET", path, 200, 15_000, "-", crawlers[i], "-", "-")
}

func (g *gen) campaignLine(b []byte, c *campaign) []byte {
	var id int
	if c.sequential {
		c.next++
		id = c.next
	} else {
		id = 1 + g.rng.IntN(g.o.users)
	}
	path := "/api/users/" + strconv.Itoa(id)
	account, sess := "-", "-"
	var addr uint32
	switch c.name {
	case "swarm":
		if c.used%c.perAddr == 0 {
			c.addrs = append(c.addrs[:0], uint32(150+g.rng.IntN(50))<<24|g.rng.Uint32()&0xffff00|uint32(1+g.rng.IntN(254)))
		}
		c.used++
		addr = c.addrs[0]
	case "account-crew":
		i := g.rng.IntN(len(c.addrs))
		addr, account = c.addrs[i], c.accounts[i]
		sess = "c" + strconv.Itoa(i) + "-" + strconv.Itoa(g.now.YearDay())
	default:
		addr = c.addrs[g.rng.IntN(len(c.addrs))]
	}
	return g.emit(b, addr, "GET", path, 200, 700, "-", c.ua, account, sess)
}

// emit appends one line in LogFormat.
func (g *gen) emit(b []byte, addr uint32, method, path string, status, size int, referer, ua, account, sess string) []byte {
	b = strconv.AppendUint(b, uint64(addr>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(addr>>16&255), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(addr>>8&255), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(addr&255), 10)
	b = append(b, " - - ["...)
	if s := g.now.Unix(); s != g.stampSec || g.stamp == nil {
		g.stampSec = s
		g.stamp = g.now.AppendFormat(g.stamp[:0], "02/Jan/2006:15:04:05 -0700")
	}
	b = append(b, g.stamp...)
	b = append(b, "] \""...)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, " \""...)
	b = append(b, referer...)
	b = append(b, "\" \""...)
	b = append(b, ua...)
	b = append(b, "\" "...)
	b = append(b, account...)
	b = append(b, ' ')
	b = append(b, sess...)
	return append(b, '\n')
}
