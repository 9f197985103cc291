package logs

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const nginxFmt = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_account" $cookie_sid`

func TestNginxFormat(t *testing.T) {
	f, err := NewNginxFormat(nginxFmt)
	if err != nil {
		t.Fatal(err)
	}
	f.Account, f.Session = "http_x_account", "cookie_sid"
	var e Entry
	line := `203.0.113.9 - - [18/May/2015:12:00:01 +0000] "GET /api/users/42?x=1 HTTP/1.1" 200 312 "-" "python-requests/2.31" "acct-7" s3ss10n` + "\n"
	if err := f.Parse([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if string(e.Addr) != "203.0.113.9" || !e.Time.Equal(time.Date(2015, 5, 18, 12, 0, 1, 0, time.UTC)) || string(e.Method) != "GET" ||
		string(e.Target) != "/api/users/42?x=1" || e.Status != 200 || e.Bytes != 312 || e.Referer != nil ||
		string(e.UserAgent) != "python-requests/2.31" || string(e.Account) != "acct-7" || string(e.Session) != "s3ss10n" {
		t.Fatalf("entry %+v", e)
	}
	// "-" for a missing account is no account
	line = strings.Replace(line, `"acct-7"`, `"-"`, 1)
	if err := f.Parse([]byte(line), &e); err != nil || e.Account != nil {
		t.Fatalf("dash account: %v %q", err, e.Account)
	}
	for _, bad := range []string{"", "garbage", `203.0.113.9 - - [bad time] "GET / HTTP/1.1" 200 1 "-" "ua" "a" s`} {
		if err := f.Parse([]byte(bad), &e); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestNginxFormatErrors(t *testing.T) {
	for format, want := range map[string]string{
		`$remote_addr$remote_user [$time_local] "$request"`: "nothing between",
		`$remote_user [$time_local] "$request"`:             "needs $remote_addr",
		`$remote_addr "$request"`:                           "needs $time_local",
		`$remote_addr [$time_local]`:                        "needs $request",
		`$remote_addr [$time_local] "$request" ${status`:    "without }",
	} {
		if _, err := NewNginxFormat(format); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", format, err, want)
		}
	}
}

func TestJSONLines(t *testing.T) {
	j, err := ParseJSONFields("time=ts,addr=client.ip,ua=headers.ua,account=user.id,session=sid")
	if err != nil {
		t.Fatal(err)
	}
	var e Entry
	for _, tc := range []struct{ line, want string }{
		{`{"ts":"2015-05-18T12:00:01Z","client":{"ip":"203.0.113.9"},"method":"GET","path":"/api/users/1","status":200,"headers":{"ua":"curl/8"},"user":{"id":77},"sid":"abc"}`, "2015-05-18T12:00:01Z"},
		{`{"ts":1431950401,"client":{"ip":"203.0.113.9"},"request":"GET /api/users/1 HTTP/1.1","status":200}`, "2015-05-18T12:00:01Z"},
		{`{"ts":1431950401000,"client":{"ip":"203.0.113.9"},"path":"/api/users/1","method":"GET","status":200}`, "2015-05-18T12:00:01Z"},
	} {
		if err := j.Parse([]byte(tc.line), &e); err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if e.Time.Format(time.RFC3339) != tc.want || string(e.Addr) != "203.0.113.9" || string(e.Target) != "/api/users/1" || string(e.Method) != "GET" || e.Status != 200 {
			t.Errorf("%s: %+v", tc.line, e)
		}
	}
	j.Parse([]byte(`{"ts":"2015-05-18T12:00:01Z","client":{"ip":"203.0.113.9"},"path":"/x","user":{"id":77},"sid":"abc","headers":{"ua":"curl/8"}}`), &e)
	if string(e.Account) != "77" || string(e.Session) != "abc" || string(e.UserAgent) != "curl/8" {
		t.Errorf("account/session/ua: %+v", e)
	}
	for _, bad := range []string{"", "{", `{"ts":"x"}`, `[1,2]`, `{"client":{"ip":"1.2.3.4"},"path":"/x"}`} {
		if err := j.Parse([]byte(bad), &e); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := ParseJSONFields("nope=x"); err == nil {
		t.Error("unknown field accepted")
	}
}

func FuzzNginxFormat(f *testing.F) {
	f.Add(`203.0.113.9 - - [18/May/2015:12:00:01 +0000] "GET / HTTP/1.1" 200 312 "-" "ua" "a" s`)
	f.Add(`"" [ ] "`)
	f.Add(`10.0.0.5 "6.6.6.6, 198.51.100.7" [18/May/2015:12:00:01 +0000] "GET / HTTP/1.1" 200`)
	f.Add(`"198.51.100.7" [18/May/2015:12:00:01 +0000] "GET / HTTP/1.1" 200`)
	nf, _ := NewNginxFormat(nginxFmt)
	nf.Account, nf.Session = "http_x_account", "cookie_sid"
	xff, _ := NewNginxFormat(`$remote_addr "$http_x_forwarded_for" [$time_local] "$request" $status`)
	xffOnly, _ := NewNginxFormat(`"$http_x_forwarded_for" [$time_local] "$request" $status`)
	f.Fuzz(func(t *testing.T, line string) {
		var e Entry
		if nf.Parse([]byte(line), &e) == nil && (len(e.Addr) == 0 || e.Time.IsZero()) {
			t.Fatalf("%q parsed without address or time", line)
		}
		for _, p := range []*NginxFormat{xff, xffOnly} {
			if p.Parse([]byte(line), &e) == nil && (len(e.Addr) == 0 && len(e.ForwardedFor) == 0 || e.Time.IsZero()) {
				t.Fatalf("%q parsed without address, X-Forwarded-For or time", line)
			}
		}
	})
}

func FuzzJSONLines(f *testing.F) {
	f.Add(`{"time":"2015-05-18T12:00:01Z","remote_addr":"1.2.3.4","path":"/x","status":200}`)
	f.Add(`{"time":1e300,"remote_addr":"","path":[]}`)
	f.Add(`2025-12-31T17:37:40.493035218+01:00 stdout F {"time":"2015-05-18T12:00:01Z","remote_addr":"1.2.3.4:5","path":"/x"}`)
	f.Add(`2025-12-31T17:37:40Z stderr P {`)
	f.Fuzz(func(t *testing.T, line string) {
		var e Entry
		if DefaultJSONFields().Parse([]byte(line), &e) == nil && (len(e.Addr) == 0 || e.Time.IsZero() || len(e.Target) == 0) {
			t.Fatalf("%q parsed incomplete", line)
		}
	})
}

// Kubernetes nodes keep container logs behind a runtime prefix; the JSON
// reader takes the object after it, and nothing that only looks like one.
func TestJSONBehindContainerRuntimePrefix(t *testing.T) {
	j := DefaultJSONFields()
	for _, tt := range []struct {
		line string
		ok   bool
	}{
		{`2025-12-31T17:37:40.493035218+01:00 stdout F {"time":"2025-12-31T16:37:40.479Z","remote_addr":"10.0.0.12:59292","path":"/admin"}`, true},
		{`2025-12-31T17:37:40Z stderr P {"time":"2025-12-31T16:37:40Z","remote_addr":"10.0.0.12","path":"/a"}`, true},
		{`{"time":"2025-12-31T16:37:40Z","remote_addr":"10.0.0.12","path":"/a"}`, true},
		{`yesterday stdout F {"time":"2025-12-31T16:37:40Z","remote_addr":"10.0.0.12","path":"/a"}`, false},
		{`2025-12-31T17:37:40Z journal F {"time":"2025-12-31T16:37:40Z","remote_addr":"10.0.0.12","path":"/a"}`, false},
		{`2025-12-31T17:37:40Z stdout F`, false},
	} {
		var e Entry
		if err := j.Parse([]byte(tt.line), &e); (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok=%v", tt.line, err, tt.ok)
		}
	}
}

func TestISOTimesAsProxiesWriteThem(t *testing.T) {
	want := time.Date(2025, 5, 1, 14, 14, 2, 417736000, time.UTC)
	for _, v := range []string{"2025-05-01T14:14:02.417736Z", "2025-05-01 14:14:02.417736", "2025-05-01T14:14:02.417736", "2025-05-01 16:14:02.417736+02:00"} {
		if got, err := parseISO([]byte(v)); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", v, got, err)
		}
	}
	if _, err := parseISO([]byte("01/May/2025")); err == nil {
		t.Error("a CLF date read as ISO")
	}
}

// An edge that logs the client's JA4 (an nginx variable, a JSON field such
// as a CDN's log export has) gives each line's TLS fingerprint; "-" or an
// empty field is none.
func TestLoggedTLSFingerprint(t *testing.T) {
	const ja4 = "t13d1516h2_8daaf6152771_02713d6af862"
	nf, err := NewNginxFormat(`$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $http_x_ja4`)
	if err != nil {
		t.Fatal(err)
	}
	nf.TLS = "http_x_ja4"
	jf, err := ParseJSONFields("time=ts,addr=ip,tls=tls.ja4")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    Parser
		line string
		want string
	}{
		{"nginx", nf, `203.0.113.9 - - [18/May/2015:12:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0" ` + ja4, ja4},
		{"nginx, none", nf, `203.0.113.9 - - [18/May/2015:12:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0" -`, ""},
		{"json", jf, `{"ts":"2015-05-18T12:00:01Z","ip":"203.0.113.9","path":"/","tls":{"ja4":"` + ja4 + `"}}`, ja4},
		{"json, none", jf, `{"ts":"2015-05-18T12:00:01Z","ip":"203.0.113.9","path":"/","tls":{"ja4":"-"}}`, ""},
	} {
		e := Entry{TLS: []byte("left from the line before")}
		if err := tc.p.Parse([]byte(tc.line), &e); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(e.TLS) != tc.want {
			t.Errorf("%s: TLS %q, want %q", tc.name, e.TLS, tc.want)
		}
	}
}

// $request is cut as bytes.SplitN(v, " ", 3) cut it: method, target and
// the rest at the first two spaces; with fewer, the whole is the target.
func TestNginxRequestSplitAsSplitN(t *testing.T) {
	f, err := NewNginxFormat(`$remote_addr [$time_local] "$request" $status`)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"GET /a HTTP/1.1", "GET /a", "/a", "", " ", "  ", "GET  /a HTTP/1.1", "GET /a HTTP/1.1 extra words",
		" /a HTTP/1.1", "GET /a ", "-", "GET /a b c d"} {
		var e Entry
		if err := f.Parse([]byte(`203.0.113.9 [18/May/2015:12:00:01 +0000] "`+req+`" 200`), &e); err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		var m, tg, p []byte
		if parts := bytes.SplitN([]byte(req), []byte(" "), 3); len(parts) == 3 {
			m, tg, p = parts[0], parts[1], parts[2]
		} else {
			tg = []byte(req)
		}
		if !bytes.Equal(e.Method, m) || !bytes.Equal(e.Target, tg) || !bytes.Equal(e.Proto, p) ||
			(e.Method == nil) != (m == nil) || (e.Proto == nil) != (p == nil) {
			t.Errorf("%q: %q %q %q, want %q %q %q", req, e.Method, e.Target, e.Proto, m, tg, p)
		}
	}
}

// Lines per second on one core, an nginx log_format with the account and
// the session, over API lines held in memory.
func BenchmarkParseNginx(b *testing.B) {
	f, err := NewNginxFormat(nginxFmt)
	if err != nil {
		b.Fatal(err)
	}
	f.Account, f.Session = "http_x_account", "cookie_sid"
	line := []byte(`203.0.113.9 - - [18/May/2015:12:00:01 +0000] "GET /api/users/42?x=1 HTTP/1.1" 200 312 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" "acct-7" s3ss10n` + "\n")
	var e Entry
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Parse(line, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// An ALB logs an IPv6 client as address:port without brackets: read as it
// was, the address was malformed (a five-digit port) or, with a port of
// four digits or fewer, another address for each connection.
func TestALBIPv6ClientWithPort(t *testing.T) {
	p, _, err := ParserOf(Spec{Format: "alb"})
	if err != nil {
		t.Fatal(err)
	}
	line := `h2 2026-12-05T10:00:01.361692Z app/my-lb/6378464905b0814a CLIENT 10.0.0.0:80 0.000 0.003 0.000 200 200 29 805 "GET https://api.example.com:443/api/users/2 HTTP/2.0" "okhttp/4.11.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:xxx:targetgroup/ApiTa/4adf8897d8a3b7af "Root=1-64fe5754-33ecd7461b3736944677bb97" "api.example.com" "session-reused" 11 2026-12-05T10:00:01.358000Z "forward" "-" "-" "10.0.100.2:80" "200" "-" "-"`
	for client, want := range map[string]string{
		"2a02:a33c:4538:1:bcf4:5264:e01c:f215:50718": "2a02:a33c:4538:1:bcf4:5264:e01c:f215",
		"2600:1f18:4fe:d201::e2a6:50718":             "2600:1f18:4fe:d201::e2a6",
		"2600:1f18:4fe:d201::e2a6:2817":              "2600:1f18:4fe:d201::e2a6",
		"[2600:1f18::1]:2817":                        "[2600:1f18::1]:2817", // bracketed: read as address:port downstream
		"192.168.131.39:2817":                        "192.168.131.39",
	} {
		var e Entry
		if err := p.Parse([]byte(strings.Replace(line, "CLIENT", client, 1)), &e); err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		if string(e.Addr) != want {
			t.Errorf("%s: address %q, want %q", client, e.Addr, want)
		}
	}
}

// nginx's escape=json quotes every value ("msec":"1796464803.123"), and
// Caddy logs each header as a list ({"User-Agent":["curl/8.4.0"]}). A
// quoted Unix time made every line malformed; a list was taken as the
// User-Agent `["curl/8.4.0"]`, and a browser's was no browser's.
func TestJSONQuotedUnixTimeAndHeaderLists(t *testing.T) {
	j, err := ParseJSONFields("time=msec,ua=http_user_agent")
	if err != nil {
		t.Fatal(err)
	}
	var e Entry
	line := `{"msec":"1796464803.123","remote_addr":"203.0.113.7","request":"GET /api/users/1 HTTP/1.1","status":"200","http_user_agent":"Mozilla/5.0"}`
	if err := j.Parse([]byte(line), &e); err != nil || e.Time.Sub(time.Unix(1796464803, 123e6)).Abs() > time.Microsecond || e.Status != 200 {
		t.Fatalf("quoted msec: %v, %v, %d", err, e.Time, e.Status)
	}
	c, err := ParseJSONFields("time=ts,addr=request.client_ip,method=request.method,path=request.uri,ua=request.headers.User-Agent")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		headers, ua string
		logged      bool
	}{
		{`{"User-Agent":["Mozilla/5.0 (X11)"],"Accept":["*/*"]}`, "Mozilla/5.0 (X11)", true},
		{`{"Accept":["*/*"]}`, "", true}, // not sent
		{`{"User-Agent":[]}`, "", true},
	} {
		line := `{"ts":1796464800.5,"request":{"client_ip":"203.0.113.7","method":"GET","uri":"/api/users/1","headers":` + tc.headers + `},"status":200}`
		if err := c.Parse([]byte(line), &e); err != nil || string(e.UserAgent) != tc.ua || e.Combined != tc.logged {
			t.Errorf("%s: %v, user agent %q logged %v; want %q %v", tc.headers, err, e.UserAgent, e.Combined, tc.ua, tc.logged)
		}
	}
}
