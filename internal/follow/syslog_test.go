package follow

import (
	"bytes"
	"testing"
)

func TestParseSyslog(t *testing.T) {
	line := `203.0.113.5 - - [01/Dec/2026:08:40:05 +0000] "GET /api/users/1 HTTP/1.1" 200 61 "-" "curl/8"`
	for _, c := range []struct {
		in        string
		host, tag string
		pri       int
		err       bool
	}{
		{in: "<190>Dec  1 08:40:05 web1 nginx: " + line, host: "web1", tag: "nginx", pri: 190},
		{in: "<190>Dec 11 08:40:05 leakguard: " + line, tag: "leakguard", pri: 190},            // nohostname
		{in: "<13>Jan  2 15:04:05 host app[1234]: " + line, host: "host", tag: "app", pri: 13}, // rsyslog
		{in: "<190>Dec  1 08:40:05 web1 nginx: " + line + "\n", host: "web1", tag: "nginx", pri: 190},
		{in: line, err: true},
		{in: "<192>Dec  1 08:40:05 web1 nginx: x", err: true},
		{in: "<>Dec  1 08:40:05 web1 nginx: x", err: true},
		{in: "<190>Foo  1 08:40:05 web1 nginx: x", err: true},
		{in: "<190>Dec  1 08:40 web1 nginx: x", err: true},
		{in: "<190>Dec  1 08:40:05 web1 nginx x", err: true},
		{in: "<190>Dec  1 08:40:05 ", err: true},
		{in: "<190>Dec  1 08:40:05 :", err: true},
	} {
		var m Syslog
		err := ParseSyslog([]byte(c.in), &m)
		if (err != nil) != c.err {
			t.Errorf("%q: error %v, want error %v", c.in, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if string(m.Host) != c.host || string(m.Tag) != c.tag || m.Priority != c.pri || string(m.Msg) != line {
			t.Errorf("%q: host %q tag %q pri %d msg %q", c.in, m.Host, m.Tag, m.Priority, m.Msg)
		}
	}
}

// TestDatagram: a datagram's lines are its messages, each with its own
// header or the last one before it.
func TestDatagram(t *testing.T) {
	in := "<190>Dec  1 08:40:05 web1 nginx: a b\r\n\n c\n<13>Jan  2 15:04:05 app[1]: d\ne\x00\n"
	want := []struct{ host, tag, msg string }{{"web1", "nginx", "a b"}, {"web1", "nginx", " c"}, {"", "app", "d"}, {"", "app", "e"}}
	var d Datagram
	var m Syslog
	d.Reset([]byte(in))
	for i := 0; ; i++ {
		ok, err := d.Next(&m)
		if !ok {
			if i != len(want) {
				t.Fatalf("%d messages, want %d", i, len(want))
			}
			break
		}
		if err != nil || i >= len(want) || string(m.Host) != want[i].host || string(m.Tag) != want[i].tag || string(m.Msg) != want[i].msg {
			t.Fatalf("message %d: %v host %q tag %q msg %q", i, err, m.Host, m.Tag, m.Msg)
		}
	}
	if x := d.Excess(); x != 0 {
		t.Fatalf("excess %d", x)
	}
	// Without a header before it, a line is an error, and read still.
	d.Reset([]byte("x\n<190>Dec  1 08:40:05 nginx: y"))
	if ok, err := d.Next(&m); !ok || err == nil || string(m.Msg) != "x" {
		t.Fatalf("a line without a header: %v %v %q", ok, err, m.Msg)
	}
	if ok, err := d.Next(&m); !ok || err != nil || string(m.Msg) != "y" {
		t.Fatalf("then a message: %v %v %q", ok, err, m.Msg)
	}
}

// FuzzParseSyslog: whatever arrives on the port, the parser neither
// panics nor hands on anything but the end of the datagram, and a message
// it accepts has a tag and a valid priority; read as a datagram of lines,
// every line is one message, or past the bound and counted.
func FuzzParseSyslog(f *testing.F) {
	f.Add([]byte(`<190>Dec  1 08:40:05 web1 nginx: 203.0.113.5 - - [01/Dec/2026:08:40:05 +0000] "GET / HTTP/1.1" 200 1 "-" "x"`))
	f.Add([]byte(`<190>Dec 11 08:40:05 leakguard: {"time":1}`))
	f.Add([]byte(`<13>Jan  2 15:04:05 host app[1234]: x`))
	f.Add([]byte(`<1>`))
	f.Add([]byte("<190>Dec  1 08:40:05 a b: \x00\r\n"))
	// several lines in a datagram: each with its header, or the first alone
	f.Add([]byte("<190>Dec  1 08:40:05 web1 nginx: 203.0.113.5 - - [01/Dec/2026:08:40:05 +0000] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\"\n" +
		"<190>Dec  1 08:40:06 web1 nginx: 203.0.113.6 - - [01/Dec/2026:08:40:06 +0000] \"GET /b HTTP/1.1\" 200 1 \"-\" \"x\"\n"))
	f.Add([]byte("<190>Dec 11 08:40:05 leakguard: {\"a\":1}\r\n{\"a\":2}\n\n{\"a\":3}"))
	f.Add([]byte("x\n<13>Jan  2 15:04:05 host app[1234]: y\nz"))
	f.Add(bytes.Repeat([]byte("<1>Jan  2 15:04:05 t: x\n"), MaxLines+2))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Syslog
		if ParseSyslog(b, &m) == nil {
			if m.Priority < 0 || m.Priority > 191 || len(m.Tag) == 0 {
				t.Fatalf("accepted %q: priority %d, tag %q", b, m.Priority, m.Tag)
			}
			if !bytes.Contains(b, m.Msg) || !bytes.Contains(b, m.Tag) {
				t.Fatalf("accepted %q: message %q or tag %q not from the datagram", b, m.Msg, m.Tag)
			}
		}
		var d Datagram
		d.Reset(b)
		n := 0
		for {
			ok, err := d.Next(&m)
			if !ok {
				break
			}
			n++
			if len(m.Msg) == 0 && err != nil || bytes.IndexByte(m.Msg, '\n') >= 0 || !bytes.Contains(b, m.Msg) {
				t.Fatalf("%q: line %d %q is not one line of the datagram", b, n, m.Msg)
			}
			if err == nil && (m.Priority < 0 || m.Priority > 191 || len(m.Tag) == 0 || !bytes.Contains(b, m.Tag)) {
				t.Fatalf("%q: line %d accepted with priority %d, tag %q", b, n, m.Priority, m.Tag)
			}
		}
		lines := 0
		for _, l := range bytes.Split(b, []byte{'\n'}) {
			if len(bytes.TrimRight(l, "\r\x00")) > 0 {
				lines++
			}
		}
		if x := d.Excess(); n > MaxLines || n+x != lines {
			t.Fatalf("%q: %d lines read and %d past the bound, of %d", b, n, x, lines)
		}
	})
}
