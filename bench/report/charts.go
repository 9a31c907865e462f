package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// chart is one PNG written.
type chart struct {
	Title string
	File  string // name within the charts directory
}

// drawCharts writes the latency and rate charts of every group with
// measured scenarios into dir.
func drawCharts(rep *Report, dir string) ([]chart, error) {
	var out []chart
	for _, g := range rep.groups("") {
		if g == "intake" {
			continue // rates of different things, no concurrency axis: its table says it all
		}
		rs := rep.inGroup(g)
		if !slices.ContainsFunc(rs, func(r Result) bool { return r.Status == "ok" && r.Requests > 0 }) {
			continue // e.g. a group whose scenarios are all pending
		}
		c, err := latencyChart(g, rs, dir)
		if err != nil {
			return nil, fmt.Errorf("%s latency chart: %w", g, err)
		}
		out = append(out, c)
		c, ok, err := rateChart(g, rs, dir)
		if err != nil {
			return nil, fmt.Errorf("%s rate chart: %w", g, err)
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

var gray = color.Gray{Y: 80}

// latencyChart: p50 (dashed) and p99 (solid) versus concurrency, per
// scenario, the empty call in gray; both axes logarithmic.
func latencyChart(group string, rs []Result, dir string) (chart, error) {
	p := plot.New()
	p.Title.Text = group + ": latency versus concurrency (p50 dashed, p99 solid)"
	p.X.Label.Text = "requests in flight"
	p.Y.Label.Text = "ms"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = ticks125{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())

	// Series by scenario name, in order of appearance, the empty call first.
	// The empty call is measured beside each scenario paired with it: when a
	// group pairs it with several (the mailbox's detail view and
	// IngestMessage, both at 8), each pairing is a series of its own.
	beside := map[int]string{} // index of an empty call in rs -> the scenario it was measured beside
	for i, c := range pairedCeiling(rs) {
		if rs[c].isEmpty() {
			beside[c] = shortName(rs[i].Name)
		}
	}
	pairings := map[string]bool{}
	for _, n := range beside {
		pairings[n] = true
	}
	var names []string
	points := map[string][]Result{}
	concs := map[int]bool{}
	for i, r := range rs {
		if r.Status != "ok" || r.Requests == 0 || r.P50ms <= 0 {
			continue
		}
		name := r.Name
		if r.isEmpty() && len(pairings) > 1 && beside[i] != "" {
			name = emptyCall + " beside " + beside[i]
		}
		if _, ok := points[name]; !ok {
			names = append(names, name)
		}
		points[name] = append(points[name], r)
		concs[r.Concurrency] = true
	}
	isEmpty := func(name string) bool { return strings.HasPrefix(name, emptyCall) }
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case isEmpty(a) && !isEmpty(b):
			return -1
		case isEmpty(b) && !isEmpty(a):
			return 1
		}
		return 0
	})
	empties, others := 0, 0
	for _, name := range names {
		pts := points[name]
		slices.SortFunc(pts, func(a, b Result) int { return a.Concurrency - b.Concurrency })
		// One point per concurrency (each pairing has its own series).
		pts = slices.CompactFunc(pts, func(a, b Result) bool { return a.Concurrency == b.Concurrency })
		p50, p99 := make(plotter.XYs, len(pts)), make(plotter.XYs, len(pts))
		for k, r := range pts {
			p50[k] = plotter.XY{X: float64(r.Concurrency), Y: r.P50ms}
			p99[k] = plotter.XY{X: float64(r.Concurrency), Y: r.P99ms}
		}
		var col color.Color
		var glyph draw.GlyphDrawer = draw.CircleGlyph{}
		if isEmpty(name) {
			// Gray; a second pairing lighter, with square points.
			col = gray
			if empties > 0 {
				col, glyph = color.Gray{Y: uint8(min(80+60*empties, 200))}, draw.SquareGlyph{}
			}
			empties++
		} else {
			col = plotutil.Color(others)
			others++
		}
		for _, s := range []struct {
			xys    plotter.XYs
			dashed bool
			label  string
		}{{p99, false, name + " p99"}, {p50, true, name + " p50"}} {
			l, sc, err := plotter.NewLinePoints(s.xys)
			if err != nil {
				return chart{}, err
			}
			l.Color, sc.Color = col, col
			l.Width = vg.Points(1.5)
			if s.dashed {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				sc.Shape = draw.RingGlyph{}
				if _, square := glyph.(draw.SquareGlyph); square {
					sc.Shape = draw.BoxGlyph{}
				}
			} else {
				sc.Shape = glyph
			}
			sc.Radius = vg.Points(2.5)
			p.Add(l, sc)
			if !s.dashed {
				p.Legend.Add(s.label, l, sc)
			}
		}
	}
	var ticks []plot.Tick
	for c := range concs {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	slices.SortFunc(ticks, func(a, b plot.Tick) int { return int(a.Value - b.Value) })
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if len(ticks) > 0 {
		p.X.Min, p.X.Max = ticks[0].Value/1.3, ticks[len(ticks)-1].Value*1.3
	}
	if p.Y.Min > 0 {
		p.Y.Min /= 1.5
		p.Y.Max *= 4 // room for the legend
	}
	c := chart{Title: group + ": p50 and p99 latency versus concurrency, beside the empty call", File: slug(group) + "-latency.png"}
	return c, p.Save(9*vg.Inch, 6*vg.Inch, filepath.Join(dir, c.File))
}

// rateChart: each scenario's rate as a percentage of the empty call measured
// beside it (the ceiling, 100%), labelled with the ratio and both rates.
func rateChart(group string, rs []Result, dir string) (chart, bool, error) {
	var vals plotter.Values
	var labels []string
	var ratioLabels []string
	paired := pairedCeiling(rs)
	for i, r := range rs {
		if r.Status != "ok" || r.Ceiling == "" || r.RateRatio <= 0 {
			continue
		}
		vals = append(vals, 100*r.RateRatio)
		// The ceiling's rate as the load command recorded it; for older
		// results, that of the ceiling measured beside it.
		ceiling := r.CeilingRate
		if c, ok := paired[i]; ok && ceiling == 0 {
			ceiling = rs[c].Rate
		}
		labels = append(labels, fmt.Sprintf("%s @%d\n%s vs %s/s", shortName(r.Name), r.Concurrency, num(r.Rate), num(ceiling)))
		ratioLabels = append(ratioLabels, fmt.Sprintf("%.0f%%", 100*r.RateRatio))
	}
	if len(vals) == 0 {
		return chart{}, false, nil
	}
	p := plot.New()
	p.Title.Text = group + ": call rate as % of the empty call measured beside it"
	p.Y.Label.Text = "% of the empty call's rate (the ceiling)"
	p.Add(plotter.NewGrid())
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return chart{}, false, err
	}
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	p.Add(bars)
	top := 100.0
	for _, v := range vals {
		top = math.Max(top, v)
	}
	ceil := plotter.NewFunction(func(float64) float64 { return 100 })
	ceil.Color, ceil.Width, ceil.Dashes = gray, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(ceil)
	p.Legend.Add("empty call (ceiling) = 100%", ceil)
	p.Legend.Top = true
	xys := make(plotter.XYs, len(vals))
	for i, v := range vals {
		xys[i] = plotter.XY{X: float64(i), Y: v + top*0.02}
	}
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: ratioLabels})
	if err != nil {
		return chart{}, false, err
	}
	for i := range lbl.TextStyle {
		lbl.TextStyle[i].XAlign = draw.XCenter
	}
	p.Add(lbl)
	p.NominalX(labels...)
	p.X.Tick.Label.Font.Size = vg.Points(7.5)
	p.Y.Min, p.Y.Max = 0, top*1.15
	c := chart{Title: group + ": rate as a percentage of the empty call's (the ceiling)", File: slug(group) + "-rate.png"}
	w := math.Max(7, 1.5*float64(len(vals)))
	return c, true, p.Save(vg.Length(w)*vg.Inch, 5*vg.Inch, filepath.Join(dir, c.File))
}

// shortName is a scenario's name for a chart label: "detail view: ListItemThreads, …"
// -> "detail view", "IngestMessage (~5 KB, 100 users)" -> "IngestMessage".
func shortName(name string) string {
	if i := strings.Index(name, ":"); i > 0 && strings.HasPrefix(name, "detail view") {
		name = name[:i]
	}
	if i := strings.Index(name, " ("); i > 0 {
		name = name[:i]
	}
	return name
}

// ticks125 labels a logarithmic axis at 1, 2 and 5 times the powers of ten.
type ticks125 struct{}

// Ticks implements plot.Ticker.
func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ts
}
