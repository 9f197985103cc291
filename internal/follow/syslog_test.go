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

// FuzzParseSyslog: whatever arrives on the port, the parser neither
// panics nor hands on anything but the end of the datagram, and a message
// it accepts has a tag and a valid priority.
func FuzzParseSyslog(f *testing.F) {
	f.Add([]byte(`<190>Dec  1 08:40:05 web1 nginx: 203.0.113.5 - - [01/Dec/2026:08:40:05 +0000] "GET / HTTP/1.1" 200 1 "-" "x"`))
	f.Add([]byte(`<190>Dec 11 08:40:05 leakguard: {"time":1}`))
	f.Add([]byte(`<13>Jan  2 15:04:05 host app[1234]: x`))
	f.Add([]byte(`<1>`))
	f.Add([]byte("<190>Dec  1 08:40:05 a b: \x00\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Syslog
		if ParseSyslog(b, &m) != nil {
			return
		}
		if m.Priority < 0 || m.Priority > 191 || len(m.Tag) == 0 {
			t.Fatalf("accepted %q: priority %d, tag %q", b, m.Priority, m.Tag)
		}
		if !bytes.Contains(b, m.Msg) || !bytes.Contains(b, m.Tag) {
			t.Fatalf("accepted %q: message %q or tag %q not from the datagram", b, m.Msg, m.Tag)
		}
	})
}
