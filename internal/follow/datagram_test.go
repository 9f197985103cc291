package follow

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/detect"
	"github.com/leakguard/leakguard/internal/logs"
	"github.com/leakguard/leakguard/internal/records"
	"github.com/leakguard/leakguard/internal/testserver"
)

// TestFollowDatagramLines: a datagram holding several messages, one a
// line, meters each line (each with its own header, or only the first
// with one), and lines past MaxLines are counted, not read.
func TestFollowDatagramLines(t *testing.T) {
	const head = "<190>Dec  1 08:40:05 web1 nginx: "
	access := func(id int) string {
		return fmt.Sprintf(`203.0.113.5 - - [01/Dec/2026:08:40:05 +0000] "GET /api/users/%d HTTP/1.1" 200 61 "-" "curl/8"`, id)
	}
	// lines joins n access lines, with the header on every line (all) or
	// on the first alone.
	lines := func(n int, all bool, sep string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(sep)
			}
			if i == 0 || all {
				b.WriteString(head)
			}
			b.WriteString(access(i + 1))
		}
		return b.String()
	}
	for _, c := range []struct {
		name                              string
		datagram                          string
		metered, malformed, other, excess uint64
	}{
		{name: "one", datagram: lines(1, true, "\n") + "\n", metered: 1},
		{name: "two, each with its header", datagram: lines(2, true, "\n"), metered: 2},
		{name: "three, each with its header", datagram: lines(3, true, "\n") + "\n", metered: 3},
		{name: "three, the first with a header", datagram: lines(3, false, "\n"), metered: 3},
		{name: "CRLF and blank lines", datagram: lines(3, true, "\r\n\r\n") + "\r\n", metered: 3},
		{name: "a headerless line has the last header's tag", datagram: head + access(1) + "\n" + access(2) + "\n" +
			"<190>Dec  1 08:40:05 web1 other: " + access(3) + "\n" + access(4) + "\n" + head + access(5), metered: 3, other: 2},
		{name: "a bad line among good ones", datagram: lines(2, true, "\n") + "\n" + head + "not an access line\n" + access(9), metered: 3, malformed: 1},
		{name: "no header at all", datagram: access(1) + "\n" + access(2), malformed: 2},
		{name: "past the bound", datagram: lines(MaxLines+5, false, "\n"), metered: MaxLines, excess: 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := testStack(t, nil)
			var mu sync.Mutex
			served := 0
			f := listenTest(t, Options{Tag: "nginx", Parser: logs.Combined{}, Resolver: st.Resolver, Catalog: st.Catalog, Engine: st.Engine,
				Served: func([]records.Found, detect.Signals) { mu.Lock(); served++; mu.Unlock() }})
			sender(t, "127.0.0.1", f)(c.datagram)
			want := c.metered + c.malformed + c.other + c.excess
			testserver.WaitFor(t, 10*time.Second, "the lines", func() bool {
				return f.Count(Metered)+f.Count(Malformed)+f.Count(OtherTag)+f.Count(Excess) == want
			})
			if m, b, o, x := f.Count(Metered), f.Count(Malformed), f.Count(OtherTag), f.Count(Excess); m != c.metered || b != c.malformed || o != c.other || x != c.excess {
				t.Fatalf("metered %d, malformed %d, other_tag %d, excess %d; want %d, %d, %d, %d", m, b, o, x, c.metered, c.malformed, c.other, c.excess)
			}
			mu.Lock()
			defer mu.Unlock()
			if served != int(c.metered) { // each line its own user's record
				t.Fatalf("records served on %d lines, want %d", served, c.metered)
			}
		})
	}
}
