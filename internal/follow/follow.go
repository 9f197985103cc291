// Package follow meters records from an edge's access log as it is
// written: nginx sends each line over syslog (access_log
// syslog:server=...), and every line is read by the parsers of `leakguard
// analyze` and replayed into the proxy's own engine, so the sanctions it
// decides are the ones the auth endpoint enforces.
package follow

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/engine"
	"github.com/leakguard/leakguard/internal/identity"
	"github.com/leakguard/leakguard/internal/lograte"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/pipeline"
	"github.com/leakguard/leakguard/internal/records"
)

// Options configure a Follower.
type Options struct {
	// Addr is the UDP address to receive syslog on, e.g. 127.0.0.1:5514,
	// or unix: and the path of a unix datagram socket to make, e.g.
	// unix:/run/leakguard/syslog.sock (nginx: syslog:server=unix:...).
	// Who may send on a socket is who may write its file (SocketMode and
	// its directory), so a local program cannot forge lines as it can
	// from any loopback address.
	Addr string
	// SocketMode is the unix socket's file mode (default 0660: its owner
	// and group; put nginx's user in leakguard's group, or the socket in
	// a directory of nginx's group).
	SocketMode os.FileMode
	// Senders are the prefixes datagrams may come from; others are
	// dropped and counted (ForeignSender). Left empty, the loopback
	// addresses, and Listen fails unless Addr is a loopback address:
	// anyone who can send to the port could otherwise have any client
	// address metered, and so blocked.
	Senders []netip.Prefix
	// Tag, if set, is the only syslog tag metered; other tags are counted
	// and left alone (several logs may share the port).
	Tag string
	// Parser reads the access log line; Sessions says its format logs
	// sessions, so a record line without one is sessionless.
	Parser   logs.Parser
	Sessions bool
	// Queue bounds the datagrams received and not yet metered (default
	// 8192; nginx sends a line each): past it they are dropped and their
	// lines counted, so a burst never holds the socket or memory.
	Queue int

	Resolver *identity.Resolver
	Catalog  *records.Catalog
	Engine   *engine.Engine
	Detector *detect.Detector
	UA       *detect.UAClassifier
	// Served, if set, sees the records of every metered line (the
	// proxy's records metrics).
	Served func(recs []records.Found, sig detect.Signals)
	// Registerer gets the follower's metrics (leakguard_follow_*).
	Registerer prometheus.Registerer
	Log        *slog.Logger
	Now        func() time.Time
}

// DefaultQueue is the default bound of lines waiting to be metered.
const DefaultQueue = 8192

// Outcomes of a received datagram, the label of leakguard_follow_lines_total.
const (
	Metered   = "metered"   // read and replayed into the engine
	Malformed = "malformed" // not a syslog message, or a line the format does not read
	Dropped   = "dropped"   // the queue was full
	OtherTag  = "other_tag" // a syslog tag other than Options.Tag
	// ForeignSender: a datagram from an address not in Options.Senders,
	// dropped unread.
	ForeignSender = "foreign_sender"
	// Excess: a line of a datagram past its first MaxLines, not read.
	Excess = "excess"
)

// loopback are the senders allowed when Options.Senders is empty.
func loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// Follower receives an access log over syslog and meters it.
type Follower struct {
	o     Options
	conn  net.PacketConn
	queue chan []byte
	lines *prometheus.CounterVec
	by    map[string]prometheus.Counter
	wg    sync.WaitGroup
	once  sync.Once
	// foreign: the warning of datagrams from senders not listed
	foreign lograte.Limiter
}

// Listen binds the UDP socket and starts receiving and metering.
func Listen(o Options) (*Follower, error) {
	if o.Parser == nil || o.Resolver == nil || o.Catalog == nil || o.Engine == nil {
		return nil, errors.New("follow: parser, resolver, catalog and engine are required")
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	conn, err := listenPacket(&o)
	if err != nil {
		return nil, fmt.Errorf("follow: %w", err)
	}
	f := &Follower{o: o, conn: conn, queue: make(chan []byte, o.Queue), by: map[string]prometheus.Counter{}}
	f.lines = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leakguard_follow_lines_total",
		Help: "Access log lines received over syslog, by outcome: metered, malformed, dropped (queue full), other_tag, foreign_sender (a datagram from an address not in follow.senders), excess (a line past the 128th of one datagram).",
	}, []string{"outcome"})
	for _, o := range []string{Metered, Malformed, Dropped, OtherTag, ForeignSender, Excess} {
		f.by[o] = f.lines.WithLabelValues(o)
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(f.lines); err != nil {
			conn.Close()
			return nil, err
		}
		if err := o.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leakguard_follow_queue_lines",
			Help: "Access log lines received and waiting to be metered."}, func() float64 { return float64(len(f.queue)) })); err != nil {
			conn.Close()
			return nil, err
		}
	}
	f.wg.Add(2)
	go f.receive()
	go f.meterLoop()
	return f, nil
}

// listenPacket binds o.Addr: a unix datagram socket for unix:PATH, else
// UDP, where Senders must be known (and are loopback when left empty).
func listenPacket(o *Options) (net.PacketConn, error) {
	if path, ok := strings.CutPrefix(o.Addr, "unix:"); ok {
		if len(o.Senders) > 0 {
			return nil, errors.New("a unix socket has no sender addresses: its file's mode says who may send")
		}
		// A socket left by a run that did not close it; anything else
		// at the path is not ours to remove.
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path)
		}
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			return nil, err
		}
		mode := o.SocketMode
		if mode == 0 {
			mode = 0o660
		}
		if err := os.Chmod(path, mode); err != nil {
			conn.Close()
			return nil, err
		}
		_ = conn.SetReadBuffer(4 << 20)
		return conn, nil
	}
	ua, err := net.ResolveUDPAddr("udp", o.Addr)
	if err != nil {
		return nil, err
	}
	if len(o.Senders) == 0 {
		if a, ok := netip.AddrFromSlice(ua.IP); !ok || !a.Unmap().IsLoopback() {
			return nil, fmt.Errorf("senders are required when listening beyond loopback (%s): anyone who can send to the port could have any address blocked", o.Addr)
		}
		o.Senders = loopback()
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	// A larger socket buffer rides out bursts the kernel would otherwise
	// drop unseen (capped by net.core.rmem_max; best effort).
	_ = conn.SetReadBuffer(4 << 20)
	return conn, nil
}

// Addr is the address the follower receives on.
func (f *Follower) Addr() net.Addr { return f.conn.LocalAddr() }

// Count is the number of lines with an outcome so far.
func (f *Follower) Count(outcome string) uint64 {
	c, ok := f.by[outcome]
	if !ok {
		return 0
	}
	var m dto.Metric
	if c.Write(&m) != nil {
		return 0
	}
	return uint64(m.GetCounter().GetValue())
}

// Close stops receiving, meters what is queued, and returns.
func (f *Follower) Close() error {
	var err error
	f.once.Do(func() {
		err = f.conn.Close()
		f.wg.Wait()
		if path, ok := strings.CutPrefix(f.o.Addr, "unix:"); ok {
			os.Remove(path)
		}
	})
	return err
}

// receive reads datagrams into the queue; it never waits on the meter.
func (f *Follower) receive() {
	defer f.wg.Done()
	defer close(f.queue)
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := f.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			f.o.Log.Warn("follow: receiving", "error", err)
			continue
		}
		// On a unix socket its file's mode said who may send.
		var from netip.AddrPort
		if ua, ok := addr.(*net.UDPAddr); ok {
			from = ua.AddrPort()
		}
		if f.o.Senders != nil && !f.sender(from.Addr()) {
			// Unread: a forged line would meter any address it names.
			f.by[ForeignSender].Inc()
			if ok, held := f.foreign.Allow(f.o.Now()); ok {
				f.o.Log.Warn("follow: dropping datagrams from a sender not in follow.senders", "sender", from.Addr().Unmap(), "datagrams", held+1)
			}
			continue
		}
		select {
		case f.queue <- bytes.Clone(buf[:n]):
		default:
			// Each line of the datagram (up to MaxLines) is one dropped.
			f.by[Dropped].Add(float64(min(1+bytes.Count(bytes.TrimRight(buf[:n], "\r\n\x00"), nl), MaxLines)))
		}
	}
}

// sender reports whether a datagram from a is read.
func (f *Follower) sender(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range f.o.Senders {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// meterLoop meters lines one at a time, in the order received: the engine
// and the detector see the log as analyze replays it.
func (f *Follower) meterLoop() {
	defer f.wg.Done()
	var d Datagram
	var s Syslog
	var e logs.Entry
	var recs []records.Found
	for b := range f.queue {
		recs = f.datagram(b, &d, &s, &e, recs)
	}
}

var nl = []byte{'\n'}

// datagram meters each line of one datagram, in order, and reports their
// outcomes in the counters.
func (f *Follower) datagram(b []byte, d *Datagram, s *Syslog, e *logs.Entry, recs []records.Found) []records.Found {
	d.Reset(b)
	n := 0
	for {
		ok, err := d.Next(s)
		if !ok {
			break
		}
		n++
		if err != nil {
			f.malformed(s.Msg, err)
			continue
		}
		recs = f.line(s, e, recs[:0])
	}
	if x := d.Excess(); x > 0 {
		f.by[Excess].Add(float64(x))
		f.o.Log.Debug("follow: lines past the bound of a datagram", "lines", x, "bound", MaxLines)
	} else if n == 0 {
		f.malformed(b, errNoPriority) // an empty datagram
	}
	return recs
}

// line meters one syslog message.
func (f *Follower) line(s *Syslog, e *logs.Entry, recs []records.Found) []records.Found {
	if f.o.Tag != "" && string(s.Tag) != f.o.Tag {
		f.by[OtherTag].Inc()
		return recs
	}
	if err := f.o.Parser.Parse(s.Msg, e); err != nil {
		f.malformed(s.Msg, err)
		return recs
	}
	recs, err := f.meter(e, f.o.Now(), recs)
	if err != nil {
		f.malformed(s.Msg, err)
		return recs
	}
	f.by[Metered].Inc()
	return recs
}

func (f *Follower) malformed(b []byte, err error) {
	f.by[Malformed].Inc()
	f.o.Log.Debug("follow: malformed line", "error", err, "line", string(b[:min(len(b), 200)]))
}

var errBadAddr = errors.New("malformed client address")

// meter replays one parsed line into the engine as analyze does (its
// prepare and apply), at now: the line's own time is to the second in
// most formats, and the engine is shared with the auth endpoint, which
// decides in the present.
func (f *Follower) meter(e *logs.Entry, now time.Time, recs []records.Found) ([]records.Found, error) {
	addr, ok := f.o.Resolver.LineAddr(view(e.Addr), view(e.ForwardedFor))
	if !ok {
		return recs, errBadAddr
	}
	act := f.o.Resolver.IdentifyLine(addr, e.UserAgent, e.TLS)
	if len(e.Account) > 0 {
		act.Keys[identity.Account] = f.o.Resolver.AccountKey(view(e.Account))
	}
	if len(e.Session) > 0 {
		act.Keys[identity.Session] = f.o.Resolver.SessionKey(view(e.Session))
	}
	path := logs.OriginForm(e.Target)
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	method := view(e.Method)
	m := f.o.Catalog.Match(method, view(path))
	var route string
	if m.Matched() {
		route = f.o.Catalog.RouteName(m.Route())
	}
	if e.Status >= 200 && e.Status <= 299 {
		recs = f.o.Catalog.PathRecords(&m, recs)
	}
	miss := m.Matched() && e.Status >= 400 && e.Status <= 499
	var traits *detect.Traits
	if f.o.Detector != nil {
		ua := detect.UAOther // a format that logs no User-Agent says nothing of it
		if e.Combined {
			ua = f.o.UA.Classify(view(e.UserAgent))
		}
		traits = &detect.Traits{Kind: detect.KindOfLogged(route != "", method, view(path), e.Status), UA: ua,
			Addr: addr, NoSessions: !f.o.Sessions, At: now.UnixNano(), IDLow: m.IDLow(), Route: m.Route() + 1, App: f.o.Detector.App(view(e.UserAgent)), PathID: detect.PathID(view(path))}
	}
	pipe := pipeline.Pipeline{Detector: f.o.Detector, Engine: f.o.Engine}
	v := pipe.Admit(now, &act, traits, route, false)
	if v.Action >= engine.Throttle && (v.Key.Kind == identity.Crew || v.Key.Kind == identity.Fingerprint) && act.Keys[identity.IP].Hash != 0 {
		// The auth endpoint cannot derive these keys: a crew is the
		// detector's verdict on the log's lines, and the log's fingerprint
		// is its user agent alone, not the request's headers. The sanction
		// follows the address it was seen from, where the edge enforces it.
		f.o.Engine.Impose(now.UnixNano(), engine.Sanction{Key: act.Keys[identity.IP], Rule: v.Rule, Action: v.Action,
			Until: now.Add(v.RetryAfter).UnixNano()})
	}
	pipe.Observe(now, &act, engine.Exchange{Route: route, Records: recs, Miss: miss, Signals: v.Signals})
	if f.o.Served != nil && len(recs) > 0 {
		f.o.Served(recs, v.Signals)
	}
	return recs, nil
}

// view is b as a string without a copy, for lookups that do not keep it.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
