package load

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %g, want %g", tt.in, got, tt.want)
		}
	}
}

func TestPairedMediansOfRunRatios(t *testing.T) {
	ceil := []float64{100, 200, 400}
	scen := []float64{90, 100, 360} // ratios 0.9, 0.5, 0.9
	i, j := 0, 0
	c, s := Paired(3, func() Result {
		r := Result{Scenario: "g: empty", Concurrency: 1, Status: StatusOK, Requests: 10, Rate: ceil[i], P99ms: 1}
		r.Runs = []RunFigures{r.run()}
		i++
		return r
	}, func() Result {
		r := Result{Scenario: "g: x", Concurrency: 1, Status: StatusOK, Requests: 5, Errors: j % 2, Rate: scen[j], P99ms: float64(j + 1)}
		r.Runs = []RunFigures{r.run()}
		j++
		return r
	})
	if c.Rate != 200 || len(c.Runs) != 3 || c.Requests != 30 {
		t.Errorf("ceiling: rate %g, %d runs, %d requests; want the median 200, 3 runs, 30 requests", c.Rate, len(c.Runs), c.Requests)
	}
	if s.Rate != 100 || s.RateRatio != 0.9 || s.P99Ratio != 2 || s.Errors != 1 || s.Ceiling != "g: empty @1" {
		t.Errorf("scenario: rate %g, ratio %g, p99 ratio %g, errors %d, ceiling %q; want 100, 0.9 (the median of the runs' ratios), 2, 1, \"g: empty @1\"",
			s.Rate, s.RateRatio, s.P99Ratio, s.Errors, s.Ceiling)
	}
	if s.CeilingRate != 200 || s.CeilingRate != c.Rate {
		t.Errorf("scenario: ceiling rate %g, want 200, the median of the paired ceiling's runs", s.CeilingRate)
	}
	if !s.Failed() || c.Failed() {
		t.Errorf("Failed: scenario %v, ceiling %v; want true, false", s.Failed(), c.Failed())
	}
}

func TestSkippedIsNoFailure(t *testing.T) {
	r := Skipped(IntakeGroup, "Smart Bcc", 4, StatusUnavailable, "no SMTP listener")
	if r.Failed() || r.Scenario != "intake: Smart Bcc" {
		t.Errorf("Skipped = %+v", r)
	}
}

func TestParallel(t *testing.T) {
	var n atomic.Int64
	if err := parallel(context.Background(), 4, 100, func(ctx context.Context, i int) error {
		n.Add(int64(i))
		return nil
	}); err != nil || n.Load() != 4950 {
		t.Fatalf("parallel: %v, sum %d; want nil, 4950", err, n.Load())
	}
	boom := errors.New("boom")
	if err := parallel(context.Background(), 4, 100, func(ctx context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Fatalf("parallel: %v, want boom", err)
	}
}

func TestPercentileAndThousands(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	if p50, p99, none := percentile(lat, 50), percentile(lat, 99), percentile(nil, 99); p50 != 51 || p99 != 100 || none != 0 {
		t.Errorf("percentile: p50 %g, p99 %g, of none %g; want 51, 100, 0", p50, p99, none)
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -5000: "-5,000"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// A run that fails early reports the rows a normal run reports.
func TestIntakeFailAllRows(t *testing.T) {
	all := append(imapRows(5000, ""), bccRows()...)
	got := failAll(all, errors.New("boom"))
	want := []string{nameRawFetch + " @1", nameRawParse + " @1", "IMAP initial sync, 5,000 messages (~5 KB) into PostgreSQL @1",
		nameRawIdle + " @1", nameIdle + " @1", nameBccCeil + " @1", nameBcc + " @1", nameBccCeil + " @4", nameBcc + " @4"}
	if len(got) != len(want) {
		t.Fatalf("failAll: %d rows, want %d", len(got), len(want))
	}
	for i, r := range got {
		if s := fmt.Sprintf("%s @%d", r.Name, r.Concurrency); s != want[i] || !r.Failed() || r.FirstErr != "boom" {
			t.Errorf("row %d: %s (failed %v, %q), want %s failed with boom", i, s, r.Failed(), r.FirstErr, want[i])
		}
	}
	if rows := imapRows(10, nameRawIdle); len(rows) != 2 || rows[0].name != nameRawIdle || rows[1].name != nameIdle {
		t.Errorf("imapRows from %q: %v", nameRawIdle, rows)
	}
}
