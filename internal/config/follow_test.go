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
