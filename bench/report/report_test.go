package main

import (
	"strings"
	"testing"
)

// The mailbox group measures the empty call at 8 twice, beside the detail
// view and beside IngestMessage: each is paired with its own.
func TestPairedCeiling(t *testing.T) {
	empty := func(conc int, rate float64) Result {
		return Result{Scenario: "mailbox x1: " + emptyCall, Name: emptyCall, Concurrency: conc, Rate: rate}
	}
	scen := func(name string, conc int) Result {
		return Result{Scenario: "mailbox x1: " + name, Name: name, Concurrency: conc,
			Ceiling: "mailbox x1: " + emptyCall + " @" + map[int]string{1: "1", 8: "8"}[conc]}
	}
	rs := []Result{empty(1, 100), scen("detail view", 1), empty(8, 800), scen("detail view", 8), empty(8, 700), scen("IngestMessage", 8),
		{Name: "BatchIngestMessages", Concurrency: 1}}
	got := pairedCeiling(rs)
	want := map[int]int{1: 0, 3: 2, 5: 4}
	if len(got) != len(want) {
		t.Fatalf("pairedCeiling = %v, want %v", got, want)
	}
	for i, c := range want {
		if got[i] != c {
			t.Errorf("pairedCeiling[%d] = %d, want %d", i, got[i], c)
		}
	}
}

func TestIntakeMessagesPerRun(t *testing.T) {
	r := Result{Group: "intake", Name: "IMAP initial sync, 5,000 messages", Concurrency: 1, Status: "ok", Requests: 15000, Rate: 2000}
	r.Runs = make([]RunFigures, 3)
	md := intakeSection(&Report{Results: []Result{r}})
	if !strings.Contains(md, "| messages per run |") || !strings.Contains(md, "| 1 | 5,000 |") {
		t.Errorf("intake table:\n%s\nwant a messages-per-run column showing 5,000", md)
	}
}
