package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

const apacheLog = "../../../shared/data/access-logs/elastic-examples-apache_logs.log"

func TestParseCombinedTable(t *testing.T) {
	tests := []struct {
		name, line string
		err        string
		check      func(e *Entry) bool
	}{
		{"combined", `1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.0" 200 2326 "http://r/" "UA x"`, "",
			func(e *Entry) bool {
				return string(e.Addr) == "1.2.3.4" && string(e.User) == "bob" && string(e.Method) == "GET" && string(e.Target) == "/a?b=1" &&
					e.Status == 200 && e.Bytes == 2326 && string(e.UserAgent) == "UA x" && e.Combined &&
					e.Time.Equal(time.Date(2000, 10, 10, 20, 55, 36, 0, time.UTC))
			}},
		{"common", `::1 - - [01/Jan/2024:00:00:00 +0000] "POST /x HTTP/1.1" 404 -`, "",
			func(e *Entry) bool { return !e.Combined && e.Bytes == -1 && e.Status == 404 && string(e.Addr) == "::1" }},
		{"escaped quote in UA", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "a \"quoted\" ua"`, "",
			func(e *Entry) bool { return string(e.UserAgent) == `a "quoted" ua` }}, // as sent, since 2026-12-05
		// nginx and Apache log "-" for a request without a User-Agent: none
		// sent, as the nginx format reads it (until 2026-12-05, "-")
		{"no User-Agent sent", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`, "",
			func(e *Entry) bool { return e.Combined && len(e.UserAgent) == 0 }},
		{"nginx hex escape", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET /\x22 HTTP/1.1" 400 0 "-" "-"`, "",
			func(e *Entry) bool { return string(e.Target) == `/"` }},
		{"garbage request line", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "\x16\x03\x01" 400 0 "-" "-"`, "",
			func(e *Entry) bool { return len(e.Method) == 0 && e.Status == 400 }},
		{"empty request", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "-" 408 0 "-" "-"`, "",
			func(e *Entry) bool { return string(e.Target) == "-" }},
		{"extra fields", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 0.003 "acct-7"`, "",
			func(e *Entry) bool { return string(e.UserAgent) == "ua" }},
		{"crlf", "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1\r\n", "", func(e *Entry) bool { return e.Status == 200 }},
		{"blank", "\n", "empty line", nil},
		{"bad time", `1.2.3.4 - - [01/Foo/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`, "time", nil},
		// a day its month does not have: time.Date rolled it into the next
		// month (29/Feb/2026 read as 1 March), silently
		{"no 29 February in 2026", `1.2.3.4 - - [29/Feb/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1`, "time", nil},
		{"no 31 November", `1.2.3.4 - - [31/Nov/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1`, "time", nil},
		{"29 February in a leap year", `1.2.3.4 - - [29/Feb/2028:23:59:59 +0000] "GET / HTTP/1.1" 200 1`, "",
			func(e *Entry) bool { return e.Time.Equal(time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC)) }},
		{"31 December", `1.2.3.4 - - [31/Dec/2026:23:59:59 +0000] "GET / HTTP/1.1" 200 1`, "",
			func(e *Entry) bool { return e.Time.Equal(time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)) }},
		{"no time", `1.2.3.4 - - "GET / HTTP/1.1" 200 1`, "time", nil},
		{"unterminated request", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1 200 1`, "request", nil},
		{"bad status", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 2x0 1`, "status", nil},
		{"bad bytes", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1k`, "bytes", nil},
		{"truncated UA at end of line", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozi`, "",
			func(e *Entry) bool { return e.Truncated && string(e.UserAgent) == "Mozi" }},
		{"unterminated UA with a quote later", `1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" x"`, "user agent", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			err := ParseCombined([]byte(tt.line), &e)
			if tt.err != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.err)) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !tt.check(&e) {
				t.Fatalf("err %v, entry %+v", err, e)
			}
		})
	}
}

type goldenEntry struct {
	Addr, User, Method, Target, Proto, Referer, UserAgent string
	Time                                                  time.Time
	Status                                                int
	Bytes                                                 int64
}

func openApacheLog(t testing.TB) *os.File {
	f, err := os.Open(apacheLog)
	if err != nil {
		t.Skipf("shared data not present (%v): see ../shared/README.md", err)
	}
	return f
}

// Golden: the first 25 lines of a real Apache log, field by field.
func TestParseCombinedGolden(t *testing.T) {
	f := openApacheLog(t)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var got []goldenEntry
	for i := 0; i < 25 && sc.Scan(); i++ {
		var e Entry
		if err := ParseCombined(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, goldenEntry{string(e.Addr), string(e.User), string(e.Method), string(e.Target), string(e.Proto),
			string(e.Referer), string(e.UserAgent), e.Time, e.Status, e.Bytes})
	}
	b, _ := json.MarshalIndent(got, "", " ")
	golden := "testdata/apache_first25.golden.json"
	if *update {
		os.WriteFile(golden, b, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("parsed fields differ from %s (run with -update after checking)", golden)
	}
}

// The whole real log parses, and agrees with what its provenance says of it.
func TestParseCombinedWholeApacheLog(t *testing.T) {
	f := openApacheLog(t)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lines, bad, truncated := 0, 0, 0
	addrs := map[string]bool{}
	var first, last time.Time
	for sc.Scan() {
		lines++
		var e Entry
		if err := ParseCombined(sc.Bytes(), &e); err != nil {
			bad++
			t.Logf("line %d: %v", lines, err)
			continue
		}
		if e.Truncated {
			truncated++
			t.Logf("line %d: user agent truncated", lines)
		}
		addrs[string(e.Addr)] = true
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		if e.Time.After(last) {
			last = e.Time
		}
	}
	// One line of this log (8,899, a Googlebot request) ends before its user
	// agent's closing quote: kept, and flagged.
	if lines != 10000 || bad != 0 || truncated != 1 || len(addrs) != 1753 {
		t.Fatalf("%d lines, %d malformed, %d truncated, %d addresses; want 10000, 0, 1, 1753", lines, bad, truncated, len(addrs))
	}
	if first.Day() != 17 || last.Day() != 20 || first.Month() != time.May {
		t.Fatalf("time range %v .. %v, want 17-20 May 2015", first, last)
	}
}

func FuzzParseCombined(f *testing.F) {
	f.Add([]byte(`1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "r" "ua"`))
	f.Add([]byte(`::1 - - [01/Jan/2024:00:00:00 +0000] "\"" 400 - "\\" "\"`))
	f.Add([]byte("x [ \" \" 1"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Entry
		if err := ParseCombined(line, &e); err != nil {
			return
		}
		if e.Status < 100 || e.Status > 999 || e.Bytes < -1 || len(e.Addr) == 0 {
			t.Fatalf("accepted impossible entry %+v", e)
		}
		if e.Time.Year() < 0 || e.Time.Year() > 10000 {
			t.Fatalf("time %v", e.Time)
		}
	})
}

// Lines per second on one core, over the real log held in memory.
func BenchmarkParseCombined(b *testing.B) {
	f := openApacheLog(b)
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	var e Entry
	var n int64
	for _, l := range lines {
		n += int64(len(l) + 1)
	}
	b.SetBytes(n / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ParseCombined(lines[i%len(lines)], &e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// nginx and Apache escape quotes inside quoted fields as \" and a
// backslash as \\: the field ends at the first quote after an even run.
func TestQuotedFieldEscapes(t *testing.T) {
	for _, tt := range []struct{ in, field, rest string }{
		{`"a b" x`, `a b`, ` x`},
		{`"say \"hi\"" x`, `say \"hi\"`, ` x`},
		{`"ends in \\" x`, `ends in \\`, ` x`},
		{`"odd \\\" still" x`, `odd \\\" still`, ` x`},
		{`"" x`, ``, ` x`},
	} {
		f, p, ok := quoted([]byte(tt.in), 0)
		if !ok || string(f) != tt.field || tt.in[p:] != tt.rest {
			t.Errorf("quoted(%s) = %q, rest %q, %v", tt.in, f, tt.in[p:], ok)
		}
	}
	for _, in := range []string{`"never closed`, `"escaped end\"`, `no quote`} {
		if _, _, ok := quoted([]byte(in), 0); ok {
			t.Errorf("quoted(%s) ok", in)
		}
	}
}

func TestOriginForm(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/a/b?x=1", "/a/b?x=1"},
		{"https://www.example.com:443/robots.txt", "/robots.txt"},
		{"HTTP://h/a", "/a"},
		{"http://h", "/"},
		{"http://h?x=1", "/?x=1"},
		{"wss://api.example.com:443/api/users/7", "/api/users/7"}, // until 2026-12-05 left whole, no record
		{"ws://h/a", "/a"},
		{"http://", "http://"},
		{"*", "*"},
	} {
		if got := string(OriginForm([]byte(tt.in))); got != tt.want {
			t.Errorf("OriginForm(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// nginx logs a quote, a backslash and every byte outside printable ASCII
// as \xHH (a raw UTF-8 path, as curl and scripts send it, is all of them),
// Apache a quote and a backslash as \" and \\. The target was matched as
// logged, and the record route's matcher takes backslashes for slashes:
// /api/users/\xE5\xBC\xA0 was /api/users//xE5/xBC/xA0, no record.
func TestLoggedEscapesInTheRequestAreUndone(t *testing.T) {
	nf, err := NewNginxFormat(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		request, ua, target, wantUA string
		apache                      bool // nginx writes \x22, never \"
	}{
		{`GET /api/users/\xE5\xBC\xA0\xE4\xB8\x89 HTTP/1.1`, `Mozilla/5.0 \x22q\x22`, "/api/users/张三", `Mozilla/5.0 "q"`, false},
		{`GET /api/users/o\x22brien HTTP/1.1`, `curl/8`, `/api/users/o"brien`, "curl/8", false},
		{`GET /api/users/o\"brien?a=\\ HTTP/1.1`, `say \"hi\"`, `/api/users/o"brien?a=\`, `say "hi"`, true},
		{`GET /a\xZZ HTTP/1.1`, `x`, `/a\xZZ`, `x`, false},
		{`GET /api/users/7 HTTP/1.1`, `Mozilla/5.0`, "/api/users/7", "Mozilla/5.0", false},
	} {
		line := `203.0.113.5 - - [05/Dec/2026:10:00:00 +0000] "` + tc.request + `" 200 1 "-" "` + tc.ua + `"`
		for name, p := range map[string]Parser{"combined": Combined{}, "nginx": nf} {
			if tc.apache && name == "nginx" {
				continue
			}
			var e Entry
			if err := p.Parse([]byte(line), &e); err != nil {
				t.Fatalf("%s %s: %v", name, tc.request, err)
			}
			if string(e.Target) != tc.target || string(e.UserAgent) != tc.wantUA {
				t.Errorf("%s %s: target %q, user agent %q; want %q, %q", name, tc.request, e.Target, e.UserAgent, tc.target, tc.wantUA)
			}
		}
	}
}
