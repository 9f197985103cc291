package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/ua_verdicts.golden from the current classifier")

const uaGoldenPath = "testdata/ua_verdicts.golden"

var uaClassLetter = [...]byte{UABrowser: 'b', UAOther: 'o', UAAutomation: 'a', UASearchBot: 's'}

// uaCorpus is a fixed, generated set of User-Agents that reaches every list
// pattern: each pattern's text alone, inside and glued to browser UAs, a
// search-bot pattern beside an automation one (both orders), real browser
// UAs, and random strings made of pieces of patterns, browser text and
// random bytes (partial matches exercise the automaton's failure links).
// It depends only on the embedded lists and a fixed seed, so the verdicts
// in testdata/ua_verdicts.golden pin the classifier's behaviour: any change
// to the matching, the lists or this corpus shows up as a diff.
func uaCorpus(t testing.TB) []string {
	var entries []struct {
		Pattern string   `json:"pattern"`
		Tags    []string `json:"tags"`
	}
	if err := json.Unmarshal(crawlerJSON, &entries); err != nil {
		t.Fatal(err)
	}
	var texts, searchTexts, otherTexts []string
	for _, e := range entries {
		text := e.Pattern
		if lit, _, ok := literal(e.Pattern); ok {
			text = lit
		}
		texts = append(texts, text)
		search := false
		for _, tag := range e.Tags {
			search = search || tag == "search-engine"
		}
		if search {
			searchTexts = append(searchTexts, text)
		} else {
			otherTexts = append(otherTexts, text)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(badUAs))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			line = strings.ReplaceAll(line, `\ `, " ") // the list's escaped spaces are spaces
			texts = append(texts, line)
			otherTexts = append(otherTexts, line)
		}
	}
	browsers := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
		"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.107 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
		"Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/446.0.0.35.109;]",
		"Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18",
		"Taobao/10.30.0 (iPhone; iOS 17.2)",
		"okhttp/4.12.0",
		"Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)",
		"MyCompanyInternalApp/9.41.2 (Build 20231207; Channel stable; Locale en_US; DeviceModel SM-S918B; OS Android 14)",
	}
	chrome := browsers[0]
	corpus := append([]string(nil), browsers...)
	for _, x := range texts {
		corpus = append(corpus, x, chrome+" "+x, "Mozilla/5.0 (compatible; "+x+"/2.1; +http://example.com/bot.html)", x+chrome, chrome[:40]+x+chrome[40:])
	}
	r := rand.New(rand.NewPCG(0x6c67, 0x7561))
	n := func(k int) int { return int(r.Uint64() % uint64(k)) } // the PCG stream is fixed; IntN's mapping need not be
	for range 2000 {
		s, o := searchTexts[n(len(searchTexts))], otherTexts[n(len(otherTexts))]
		corpus = append(corpus, "Mozilla/5.0 (compatible; "+s+"; "+o+")", o+" "+s)
	}
	for range 15000 {
		var b strings.Builder
		if n(3) == 0 {
			b.WriteString("Mozilla/5.0 (") // a browser unless something matches
		}
		for want := 8 + n(120); b.Len() < want; {
			switch k := n(16); {
			case k < 6:
				x := texts[n(len(texts))]
				i, j := n(len(x)+1), n(len(x)+1)
				b.WriteString(x[min(i, j):max(i, j)])
			case k < 7:
				b.WriteString(texts[n(len(texts))])
			case k < 9:
				b.WriteByte(byte(n(256)))
			default:
				br := browsers[n(len(browsers))]
				i := n(len(br))
				b.WriteString(br[i:min(len(br), i+n(12))])
			}
		}
		corpus = append(corpus, b.String())
	}
	return corpus
}

// TestUAVerdictsGolden classifies the generated corpus and requires the
// verdicts recorded in testdata (generated with the classifier of the time;
// regenerate with -update only for an intended change, and review the diff).
func TestUAVerdictsGolden(t *testing.T) {
	c, err := NewUAClassifier()
	if err != nil {
		t.Fatal(err)
	}
	corpus := uaCorpus(t)
	got := make([]byte, len(corpus))
	counts := map[UAClass]int{}
	for i, ua := range corpus {
		v := c.Classify(ua)
		got[i] = uaClassLetter[v]
		counts[v]++
	}
	if *updateGolden {
		var b bytes.Buffer
		b.WriteString("# One letter per User-Agent of uaCorpus (ua_golden_test.go), in order: b browser, o other, a automation, s search-bot.\n")
		for i := 0; i < len(got); i += 100 {
			b.Write(got[i:min(len(got), i+100)])
			b.WriteByte('\n')
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(uaGoldenPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d verdicts %v", len(got), counts)
		return
	}
	data, err := os.ReadFile(uaGoldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) > 0 && line[0] != '#' {
			want = append(want, line...)
		}
	}
	if len(want) != len(corpus) {
		t.Fatalf("golden has %d verdicts, corpus has %d User-Agents", len(want), len(corpus))
	}
	bad := 0
	for i := range corpus {
		if got[i] != want[i] {
			if bad++; bad <= 20 {
				t.Errorf("Classify(%q) = %c, golden %c", corpus[i], got[i], want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d verdicts differ from %s", bad, len(corpus), uaGoldenPath)
	}
	t.Logf("%d verdicts %v", len(corpus), counts)
}
