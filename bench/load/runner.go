package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// StatusOK is a scenario that ran; Errors may still be > 0 (see Failed).
// The intake scenarios add StatusUnavailable.
const StatusOK = "ok"

// Result is one scenario: with several runs, the median of each figure over
// the runs (Runs keeps each run's values).
type Result struct {
	Scenario    string  `json:"scenario"`
	Group       string  `json:"group"` // "visibility x1", "mailbox x1", "intake", ...: one table and chart each
	Name        string  `json:"name"`  // the scenario within its group
	Concurrency int     `json:"concurrency"`
	Status      string  `json:"status"`
	Note        string  `json:"note,omitempty"`
	Requests    int     `json:"requests"` // over all runs
	Errors      int     `json:"errors"`   // over all runs
	Seconds     float64 `json:"seconds"`  // measured, over all runs
	Rate        float64 `json:"rate_per_s"`
	// Units is what one request does (e.g. 1,000 decisions for a batch); UnitRate = Rate × Units.
	Units    int     `json:"units_per_request"`
	UnitRate float64 `json:"unit_rate_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P95ms    float64 `json:"p95_ms"`
	P99ms    float64 `json:"p99_ms"`
	Ceiling  string  `json:"ceiling,omitempty"` // the scenario this one is compared with, measured beside it in each run
	// CeilingRate is the Rate of the ceiling measured beside this scenario
	// (median of the runs'): Ceiling names the scenario and concurrency
	// only, and a group may measure the same ceiling beside several scenarios.
	CeilingRate float64      `json:"ceiling_rate_per_s,omitempty"`
	RateRatio   float64      `json:"rate_ratio,omitempty"` // Rate / ceiling's Rate (median of the runs' ratios)
	P99Ratio    float64      `json:"p99_ratio,omitempty"`  // P99 / ceiling's P99 (median of the runs' ratios)
	FirstErr    string       `json:"first_error,omitempty"`
	Runs        []RunFigures `json:"runs,omitempty"`
}

// RunFigures is one run's figures of a Result.
type RunFigures struct {
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"rate_per_s"`
	UnitRate    float64 `json:"unit_rate_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	CeilingRate float64 `json:"ceiling_rate_per_s,omitempty"`
	RateRatio   float64 `json:"rate_ratio,omitempty"`
	P99Ratio    float64 `json:"p99_ratio,omitempty"`
}

// Failed reports whether r counts as a failure (errors in a scenario that ran).
func (r *Result) Failed() bool { return r.Status == StatusOK && r.Errors > 0 }

// Call is one request of a scenario; worker is the goroutine's index, i its call count.
type Call func(ctx context.Context, worker, i int) error

// Run calls call from concurrency goroutines for d (after a short warm-up) and measures it.
// group and name make up the scenario's label.
func Run(ctx context.Context, group, name string, concurrency, units int, d time.Duration, call Call) Result {
	warm := min(d/5, time.Second)
	runFor(ctx, concurrency, warm, call) // connections, caches, warm paths
	lat, errs, first, elapsed := runFor(ctx, concurrency, d, call)
	r := Result{Scenario: group + ": " + name, Group: group, Name: name, Concurrency: concurrency, Status: StatusOK,
		Requests: len(lat), Errors: errs, Seconds: elapsed.Seconds(), Units: units}
	if first != nil {
		r.FirstErr = first.Error()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.Rate = float64(len(lat)) / elapsed.Seconds()
		r.UnitRate = r.Rate * float64(units)
		r.P50ms, r.P95ms, r.P99ms = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	}
	r.Runs = []RunFigures{r.run()}
	return r
}

func (r *Result) run() RunFigures {
	return RunFigures{Requests: r.Requests, Errors: r.Errors, Seconds: r.Seconds, Rate: r.Rate, UnitRate: r.UnitRate,
		P50ms: r.P50ms, P95ms: r.P95ms, P99ms: r.P99ms, CeilingRate: r.CeilingRate, RateRatio: r.RateRatio, P99Ratio: r.P99Ratio}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile is the p-th percentile of sorted (ascending), in ms; 0 for none.
func percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return ms(sorted[min(len(sorted)-1, len(sorted)*p/100)])
}

// Thousands formats n with comma separators: 10000 -> "10,000".
func Thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func runFor(ctx context.Context, concurrency int, d time.Duration, call Call) ([]time.Duration, int, error, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			e := 0
			var fe error
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				err := call(context.WithoutCancel(ctx), w, i)
				if ctx.Err() != nil && err != nil {
					break // cut off by the end of the run, not a failure
				}
				lat = append(lat, time.Since(t0))
				if err != nil {
					e++
					if fe == nil {
						fe = err
					}
				}
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			if first == nil {
				first = fe
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, errs, first, time.Since(start)
}

// Compare fills r's ratios against the ceiling c (one run each, measured side by side).
func Compare(r *Result, c Result) {
	r.Ceiling = c.Scenario + fmt.Sprintf(" @%d", c.Concurrency)
	r.CeilingRate = c.Rate
	r.RateRatio, r.P99Ratio = 0, 0
	if c.Rate > 0 {
		r.RateRatio = r.Rate / c.Rate
	}
	if c.P99ms > 0 {
		r.P99Ratio = r.P99ms / c.P99ms
	}
	if len(r.Runs) == 1 {
		r.Runs[0].CeilingRate, r.Runs[0].RateRatio, r.Runs[0].P99Ratio = r.CeilingRate, r.RateRatio, r.P99Ratio
	}
}

// Repeat runs f runs times and merges the results (see Merge).
func Repeat(runs int, f func() Result) Result {
	rs := make([]Result, 0, runs)
	for range max(runs, 1) {
		rs = append(rs, f())
	}
	return Merge(rs)
}

// Paired runs ceiling and then scenario, runs times, so that each run of the
// scenario is compared with the ceiling measured just before it; it returns
// both merged, the scenario's ratios being the medians of the runs' ratios.
func Paired(runs int, ceiling, scenario func() Result) (Result, Result) {
	var cs, ss []Result
	for range max(runs, 1) {
		c := ceiling()
		s := scenario()
		Compare(&s, c)
		cs, ss = append(cs, c), append(ss, s)
	}
	return Merge(cs), Merge(ss)
}

// Merge combines runs of one scenario: Requests, Errors and Seconds add up
// (over all runs: divide by len(Runs) for one run's), the rates, percentiles
// and ratios are the medians of the runs' values, and Runs lists every run.
func Merge(rs []Result) Result {
	if len(rs) == 0 {
		return Result{}
	}
	out := rs[0]
	out.Runs = nil
	out.Requests, out.Errors, out.Seconds = 0, 0, 0
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Seconds += r.Seconds
		if out.FirstErr == "" {
			out.FirstErr = r.FirstErr
		}
		out.Runs = append(out.Runs, r.Runs...)
	}
	med := func(f func(RunFigures) float64) float64 {
		v := make([]float64, len(out.Runs))
		for i, r := range out.Runs {
			v[i] = f(r)
		}
		return Median(v)
	}
	out.Rate = med(func(r RunFigures) float64 { return r.Rate })
	out.UnitRate = med(func(r RunFigures) float64 { return r.UnitRate })
	out.P50ms = med(func(r RunFigures) float64 { return r.P50ms })
	out.P95ms = med(func(r RunFigures) float64 { return r.P95ms })
	out.P99ms = med(func(r RunFigures) float64 { return r.P99ms })
	out.CeilingRate = med(func(r RunFigures) float64 { return r.CeilingRate })
	out.RateRatio = med(func(r RunFigures) float64 { return r.RateRatio })
	out.P99Ratio = med(func(r RunFigures) float64 { return r.P99Ratio })
	return out
}

// Median is the median of v (the mean of the middle two for an even count); 0 for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Skipped is a Result for a scenario that was not measured: with status
// StatusUnavailable, note says why (the intake scenarios also use it with
// StatusOK for a scenario that failed before it could be measured).
func Skipped(group, name string, concurrency int, status, note string) Result {
	return Result{Scenario: group + ": " + name, Group: group, Name: name, Concurrency: concurrency, Status: status, Note: note}
}

// parallel calls f(ctx, i) for i in [0, n) from workers goroutines and
// returns the first error (the others stop taking work then).
func parallel(ctx context.Context, workers, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
