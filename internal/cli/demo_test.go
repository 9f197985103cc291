package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The demo, short: the naive scraper is contained at its budget and no
// shopper is refused. This runs the same wiring as `leakguard demo`.
func TestDemoShortContainsNaiveScraperAndSparesShoppers(t *testing.T) {
	var out bytes.Buffer
	c := &DemoCommand{Stdout: &out, Stderr: &out}
	if err := c.ParseFlags([]string{"--duration", "8s", "--every", "1h", "--shoppers", "60", "--nats", "2", "--think", "1s", "--scraper-rate", "80"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	shoppers, naive := c.Traffic.Scores[0], c.Traffic.Scores[1]
	if shoppers.Requests.Load() < 100 {
		t.Fatalf("shoppers made only %d requests: the demo did not run", shoppers.Requests.Load())
	}
	if n := shoppers.Refused.Load(); n != 0 {
		t.Errorf("%d shopper requests refused: false positives", n)
	}
	if _, ok := naive.Contained(); !ok {
		t.Fatal("naive scraper was never contained")
	}
	// Its client library's User-Agent gets it challenged on record routes
	// from the first request; the address budget (300) is the backstop.
	if got := naive.BeforeRefuse.Load(); got >= 300 {
		t.Errorf("naive scraper took %d profiles before containment, want fewer than its budget of 300", got)
	}
	if !strings.Contains(out.String(), "contained at") {
		t.Error("scoreboard does not say the scraper was contained")
	}
}

func TestDemoFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"--duration", "0s"}, {"--nats", "0"}, {"--scraper-rate", "-1"}, {"--shoppers", "2", "--nats", "5"}} {
		c := &DemoCommand{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		if err := c.ParseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
