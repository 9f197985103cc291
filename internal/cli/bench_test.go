package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// A short bench: the naive scraper is contained at its budget, and the JSON
// report keeps its documented field names.
func TestBenchNaiveShort(t *testing.T) {
	var out, errb bytes.Buffer
	c := &BenchCommand{Stdout: &out, Stderr: &errb}
	if err := c.ParseFlags([]string{"--scenario", "naive", "--days", "1", "--shoppers", "100", "--json"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Scenarios []struct {
			Name     string `json:"name"`
			Campaign struct {
				Contained                bool    `json:"contained"`
				TimeToContainmentSeconds float64 `json:"time_to_containment_seconds"`
				RecordsBeforeContainment int     `json:"records_before_containment"`
				RecordsTaken             int     `json:"records_taken"`
				RecordsUnprotected       int     `json:"records_unprotected"`
			} `json:"campaign"`
			Legit struct {
				Sessions        int `json:"sessions"`
				SessionsRefused int `json:"sessions_refused"`
			} `json:"legit"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Scenarios) != 1 {
		t.Fatalf("bad JSON report: %v\n%s", err, out.String())
	}
	cp := rep.Scenarios[0].Campaign
	// python-requests on a record route is challenged from its first
	// request: it takes nothing.
	if !cp.Contained || cp.RecordsBeforeContainment >= 300 || cp.TimeToContainmentSeconds > 120 {
		t.Errorf("naive: %+v; want contained within 2 minutes, before 300 records", cp)
	}
	if cp.RecordsUnprotected != 432000 || cp.RecordsTaken > 24*300+300 {
		t.Errorf("naive over a day: took %d of %d", cp.RecordsTaken, cp.RecordsUnprotected)
	}
	if rep.Scenarios[0].Legit.Sessions < 100 {
		t.Errorf("legit sessions %d", rep.Scenarios[0].Legit.Sessions)
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"--scenario", "nope"}, {"--days", "-1"}, {"--workers", "0"}} {
		c := &BenchCommand{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		if err := c.ParseFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
