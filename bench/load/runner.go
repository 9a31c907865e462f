package load

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Result is one scenario run.
type Result struct {
	Scenario    string  `json:"scenario"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"rate_per_s"`
	// Units is what one request does (e.g. 1,000 decisions for a batch); UnitRate = Rate × Units.
	Units     int     `json:"units_per_request"`
	UnitRate  float64 `json:"unit_rate_per_s"`
	P50ms     float64 `json:"p50_ms"`
	P95ms     float64 `json:"p95_ms"`
	P99ms     float64 `json:"p99_ms"`
	Ceiling   string  `json:"ceiling,omitempty"`
	RateRatio float64 `json:"rate_ratio,omitempty"` // Rate / ceiling's Rate
	P99Ratio  float64 `json:"p99_ratio,omitempty"`  // P99 / ceiling's P99
	FirstErr  string  `json:"first_error,omitempty"`
}

// Call is one request of a scenario; worker is the goroutine's index, i its call count.
type Call func(ctx context.Context, worker, i int) error

// Run calls call from concurrency goroutines for d (after a short warm-up) and measures it.
func Run(ctx context.Context, name string, concurrency, units int, d time.Duration, call Call) Result {
	warm := min(d/5, time.Second)
	runFor(ctx, concurrency, warm, call) // connections, caches, JIT-like warm paths
	lat, errs, first, elapsed := runFor(ctx, concurrency, d, call)
	r := Result{Scenario: name, Concurrency: concurrency, Requests: len(lat), Errors: errs, Seconds: elapsed.Seconds(), Units: units}
	if first != nil {
		r.FirstErr = first.Error()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.Rate = float64(len(lat)) / elapsed.Seconds()
		r.UnitRate = r.Rate * float64(units)
		r.P50ms = ms(lat[len(lat)*50/100])
		r.P95ms = ms(lat[len(lat)*95/100])
		r.P99ms = ms(lat[min(len(lat)-1, len(lat)*99/100)])
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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

// Compare fills r's ratios against the ceiling c.
func Compare(r *Result, c Result) {
	r.Ceiling = fmt.Sprintf("%s@%d", c.Scenario, c.Concurrency)
	if c.Rate > 0 {
		r.RateRatio = r.Rate / c.Rate
	}
	if c.P99ms > 0 {
		r.P99Ratio = r.P99ms / c.P99ms
	}
}
