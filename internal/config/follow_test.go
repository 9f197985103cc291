package config

import (
	"strings"
	"testing"
)

// TestFollowValidation: the follow section is checked as analyze's flags
// are, each problem with its line; off (the default) checks nothing.
func TestFollowValidation(t *testing.T) {
	base := "upstream: http://127.0.0.1:8000\n"
	for _, c := range []struct{ yaml, want string }{
		{"", ""},
		{"follow: {syslog: 127.0.0.1:5514}", ""},
		{"follow: {syslog: 127.0.0.1:5514, format: nginx, log_format: '$remote_addr [$time_local] \"$request\" $status'}", ""},
		{"follow: {syslog: nowhere}", "follow.syslog"},
		{"follow: {syslog: 127.0.0.1:5514, format: xml}", "follow.format"},
		{"follow: {syslog: 127.0.0.1:5514, format: nginx}", "follow.log_format"},
		{"follow: {syslog: 127.0.0.1:5514, format: json, fields: 'when=ts'}", "follow.fields"},
		{"follow: {syslog: 127.0.0.1:5514, queue: -1}", "follow.queue"},
		// Who may send lines: loopback alone by default, so a listener
		// beyond loopback must name its senders.
		{"follow: {syslog: '[::1]:5514'}", ""},
		{"follow: {syslog: 'localhost:5514'}", ""},
		{"follow: {syslog: 127.0.0.2:5514}", ""},
		{"follow: {syslog: 0.0.0.0:5514}", "follow.senders: required when follow.syslog listens beyond loopback: the addresses of the nginx servers that send their access log"},
		{"follow: {syslog: ':5514'}", "follow.senders: required"},
		{"follow: {syslog: '[::]:5514'}", "follow.senders: required"},
		{"follow: {syslog: 10.0.0.5:5514}", "follow.senders: required"},
		{"follow: {syslog: edge.internal:5514}", "follow.senders: required"},
		{"follow: {syslog: 0.0.0.0:5514, senders: [10.0.0.0/24, 192.0.2.7, '2001:db8::/32']}", ""},
		{"follow: {syslog: 127.0.0.1:5514, senders: [127.0.0.1/32]}", ""},
		{"follow: {syslog: 0.0.0.0:5514, senders: [10.0.0.0/33]}", "follow.senders[0]: want an address or CIDR prefix"},
		{"follow: {syslog: 127.0.0.1:5514, senders: [10.0.0.1, nginx1]}", "follow.senders[1]: want an address or CIDR prefix"},
		// A unix datagram socket: its file's mode says who may send.
		{"follow: {syslog: 'unix:/run/leakguard/syslog.sock'}", ""},
		{"follow: {syslog: 'unix:run/syslog.sock'}", "follow.syslog: want unix: and an absolute path"},
		{"follow: {syslog: 'unix:/run/leakguard/syslog.sock', senders: [127.0.0.1]}", "follow.senders: a unix socket has no sender addresses"},
	} {
		cfg, err := Decode("t.yaml", []byte(base+c.yaml+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", c.yaml, err)
		}
		err = cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.yaml, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), "t.yaml:2: "+c.want)):
			t.Errorf("%s: %v, want an error on %s at line 2", c.yaml, err, c.want)
		}
	}
	if d := Default(); d.Follow.Syslog != "off" || d.Follow.Format != "combined" || d.Follow.Queue != 8192 {
		t.Fatalf("defaults: %+v", d.Follow)
	}
}
