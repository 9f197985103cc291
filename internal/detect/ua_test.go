package detect

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/logs"
)

func TestClassifyUA(t *testing.T) {
	c, err := NewUAClassifier()
	if err != nil {
		t.Fatal(err)
	}
	for ua, want := range map[string]UAClass{
		"python-requests/2.31.0":              UAAutomation,
		"curl/8.5.0":                          UAAutomation,
		"Go-http-client/1.1":                  UAAutomation,
		"Scrapy/2.11.0 (+https://scrapy.org)": UAAutomation,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36": UAAutomation,
		"": UAAutomation,
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)":                                                                UASearchBot,
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)":                                                                 UASearchBot,
		"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)":                                                     UASearchBot,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36":                         UABrowser,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1": UABrowser,
		"Taobao/10.30.0 (iPhone; iOS 17.2)": UAOther,
	} {
		if got := c.Classify(ua); got != want {
			t.Errorf("Classify(%q) = %s, want %s", ua, got, want)
		}
		if got := c.Classify(ua); got != want { // cached
			t.Errorf("cached Classify(%q) = %s, want %s", ua, got, want)
		}
	}
}

// On the real Apache log: browsers stay browsers, and the big search
// engines' crawlers are recognised as such, not as automation.
func TestClassifyRealLog(t *testing.T) {
	f, err := os.Open("../../../shared/data/access-logs/elastic-examples-apache_logs.log")
	if err != nil {
		t.Skip("shared data not present: ", err)
	}
	defer f.Close()
	c, _ := NewUAClassifier()
	counts := map[UAClass]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e logs.Entry
		if err := logs.ParseCombined(sc.Bytes(), &e); err != nil {
			continue
		}
		ua := string(e.UserAgent)
		cl := c.Classify(ua)
		counts[cl]++
		if strings.Contains(ua, "Googlebot/") && cl != UASearchBot {
			t.Errorf("%q: %s", ua, cl)
		}
		if strings.HasPrefix(ua, "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit") && !strings.Contains(ua, "bot") && !strings.Contains(ua, "Preview") && cl != UABrowser {
			t.Errorf("%q: %s", ua, cl)
		}
	}
	t.Logf("classes on the real log: %v", counts)
	if counts[UASearchBot] < 500 || counts[UABrowser] < 5000 {
		t.Errorf("classes %v", counts)
	}
}

func BenchmarkClassifyUncached(b *testing.B) {
	c, _ := NewUAClassifier()
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	for i := 0; i < b.N; i++ {
		clear(c.cache)
		c.Classify(ua)
	}
}

// BenchmarkUAClassifierBuild times NewUAClassifier and reports the heap a
// built classifier keeps (after GC), which every process pays once.
func BenchmarkUAClassifierBuild(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept, _ := NewUAClassifier()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := NewUAClassifier(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "retained-B")
}
