package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// renderSections returns the Markdown of every marked section.
func renderSections(rep *Report, charts []chart, chartDir string) map[string]string {
	m := map[string]string{
		"machine":    machineSection(rep),
		"seeding":    seedingSection(rep),
		"visibility": groupsSection(rep, "visibility"),
		"mailbox":    groupsSection(rep, "mailbox"),
		"memory":     memorySection(rep),
		"intake":     intakeSection(rep),
		"charts":     chartsSection(charts, chartDir),
	}
	// A run without a soak leaves the soak section as it is (make bench-soak writes it).
	if rep.Soak != nil {
		m["soak"] = soakSection(rep.Soak)
	}
	return m
}

func machineSection(rep *Report) string {
	m := rep.Machine
	var b strings.Builder
	when := rep.Time
	if t, err := time.Parse(time.RFC3339, rep.Time); err == nil {
		when = t.Format("2006-01-02 15:04 UTC")
	}
	model := ""
	if m.CPUModel != "" {
		model = " (" + m.CPUModel + ")"
	}
	fmt.Fprintf(&b, "Run of %s on **%d cores%s, %.1f GiB of memory** (read from /proc/cpuinfo and /proc/meminfo), %s/%s, %s.\n",
		when, m.CPUs, model, float64(m.MemTotalBytes)/(1<<30), m.OS, m.Arch, m.Go)
	runs := rep.Config.Runs
	if runs > 1 {
		fmt.Fprintf(&b, "Every figure is the **median of %d runs** of %s per scenario (after a short warm-up) on a **shared machine**\n",
			runs, rep.Config.Duration)
	} else {
		fmt.Fprintf(&b, "Every figure is from **a single run** of %s per scenario (after a short warm-up; `--runs N` takes medians) on a **shared machine**\n",
			rep.Config.Duration)
	}
	b.WriteString("(other engineers' builds and tests ran beside it), so absolute rates are noisy; each ratio pairs a scenario with\n")
	b.WriteString("the empty call measured just before it in the same run and is the median of the runs' ratios (their range in brackets).\n")
	fmt.Fprintf(&b, "The load command ran for %s, seeding included: `sightline-load %s`.\n",
		(time.Duration(rep.ElapsedSeconds) * time.Second).String(), strings.Join(rep.Config.Args, " "))
	return b.String()
}

func seedingSection(rep *Report) string {
	if len(rep.Seeding) == 0 {
		return "_No data set was seeded in this run._\n"
	}
	var b strings.Builder
	b.WriteString("| data set | seeding time | API calls | calls/s | how, and the slowest steps |\n")
	b.WriteString("|----------|-------------:|----------:|--------:|----------------------------|\n")
	for _, s := range rep.Seeding {
		calls, rate := "", ""
		if s.Calls > 0 {
			calls = count(s.Calls)
			rate = num(float64(s.Calls) / s.Seconds)
		}
		how := s.Note
		var ph []string
		for _, p := range s.Phases {
			if p.Seconds >= 0.05*s.Seconds {
				ph = append(ph, fmt.Sprintf("%s %.1f s (%s calls)", p.Name, p.Seconds, count(p.Calls)))
			}
		}
		if len(ph) > 0 {
			how += "; " + strings.Join(ph, ", ")
		}
		fmt.Fprintf(&b, "| %s | %.1f s | %s | %s | %s |\n", s.DataSet, s.Seconds, calls, rate, how)
	}
	return b.String()
}

// groupsSection renders one table per group starting with prefix.
func groupsSection(rep *Report, prefix string) string {
	gs := rep.groups(prefix)
	if len(gs) == 0 {
		return fmt.Sprintf("_No %s scenario ran in this run._\n", prefix)
	}
	var b strings.Builder
	for i, g := range gs {
		if i > 0 {
			b.WriteString("\n")
		}
		title := g
		for _, s := range rep.Seeding {
			if strings.HasPrefix(s.DataSet, g+":") {
				title = s.DataSet
			}
		}
		fmt.Fprintf(&b, "**%s**\n\n", title)
		b.WriteString("| scenario | conc | rate/s | p50 ms | p95 ms | p99 ms | rate vs empty call | p99 vs empty call | target |\n")
		b.WriteString("|----------|-----:|-------:|-------:|-------:|-------:|-------------------:|------------------:|--------|\n")
		var errs []string
		for _, r := range rep.inGroup(g) {
			if r.Status != "ok" {
				fmt.Fprintf(&b, "| %s | %d | **%s**: %s | | | | | | %s |\n", r.Name, r.Concurrency, strings.ToUpper(r.Status), r.Note, targetText(&r))
				continue
			}
			if r.Errors > 0 {
				errs = append(errs, fmt.Sprintf("%s at %d: %d of %d requests%s failed (first: %s)", r.Name, r.Concurrency, r.Errors, r.Requests,
					overRuns(&r), r.FirstErr))
			}
			name := r.Name
			if r.isEmpty() {
				name = "_" + name + "_"
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %.3f | %.3f | %.3f | %s | %s | %s |\n", name, r.Concurrency, rateCell(&r),
				r.P50ms, r.P95ms, r.P99ms, ratioCell(&r, true), ratioCell(&r, false), targetCell(&r))
		}
		if len(errs) > 0 {
			fmt.Fprintf(&b, "\nErrors: %s.\n", strings.Join(errs, "; "))
		} else {
			b.WriteString("\nNo request failed.\n")
		}
	}
	return b.String()
}

// unitName is what one unit of a batch scenario is.
func unitName(r *Result) string {
	if strings.Contains(r.Name, "Ingest") {
		return "msgs"
	}
	return "decisions"
}

func rateCell(r *Result) string {
	switch {
	case r.Units > 1:
		return fmt.Sprintf("%s calls = **%s %s/s**", num(r.Rate), num(r.UnitRate), unitName(r))
	case strings.Contains(r.Name, "Ingest"):
		return fmt.Sprintf("**%s msgs/s**", num(r.Rate))
	}
	return num(r.Rate)
}

func ratioCell(r *Result, rate bool) string {
	if r.Ceiling == "" || r.Units > 1 {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, run := range r.Runs {
		v := run.P99Ratio
		if rate {
			v = run.RateRatio
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if rate {
		s := fmt.Sprintf("**%.0f%%**", 100*r.RateRatio)
		if len(r.Runs) > 1 {
			s += fmt.Sprintf(" (%.0f–%.0f%%)", 100*lo, 100*hi)
		}
		return s
	}
	s := fmt.Sprintf("**%.2f×**", r.P99Ratio)
	if len(r.Runs) > 1 {
		s += fmt.Sprintf(" (%.2f–%.2f×)", lo, hi)
	}
	return s
}

// target is an issue's target for a scenario: its text, and whether r meets it.
func target(r *Result) (string, func() bool) {
	switch {
	case r.Name == "CheckAccess":
		return "rate ≥ 70%, p99 ≤ 1.5× of the empty call", func() bool { return r.RateRatio >= 0.7 && r.P99Ratio <= 1.5 }
	case strings.HasPrefix(r.Name, "BatchCheckAccess"):
		return "≥ 500,000 decisions/s", func() bool { return r.UnitRate >= 500_000 }
	case strings.HasPrefix(r.Name, "LookupAccessFilter") && r.Concurrency == 1:
		return "p99 ≤ 1 ms", func() bool { return r.P99ms <= 1 }
	case strings.HasPrefix(r.Name, "ListAccessibleItems") && r.Concurrency == 1:
		return "p99 ≤ 5 ms", func() bool { return r.P99ms <= 5 }
	case strings.HasPrefix(r.Name, "detail view") && r.Concurrency == 1:
		return "p99 ≤ 10 ms", func() bool { return r.P99ms <= 10 }
	case strings.Contains(r.Name, "IngestMessage"):
		return "≥ 2,000 msgs/s", func() bool { return r.UnitRate >= 2000 }
	case strings.HasPrefix(r.Name, "IMAP initial sync"):
		return "≥ 30% of the raw fetch", func() bool { return r.RateRatio >= 0.3 }
	case strings.HasPrefix(r.Name, "new mail"):
		return "median ≤ 2 s", func() bool { return r.P50ms <= 2000 }
	case strings.HasPrefix(r.Name, "raw go-imap"), strings.HasPrefix(r.Name, "SMTP transaction refused"):
		return "(the ceiling)", nil
	case strings.HasPrefix(r.Name, "Smart Bcc") && r.Concurrency == 1:
		return "≥ 200 msgs/s on one connection", func() bool { return r.Rate >= 200 }
	case strings.HasPrefix(r.Name, "Smart Bcc"):
		return "(more connections)", nil
	case r.isEmpty():
		return "", nil
	}
	return "(under load)", nil
}

// overRuns says that r's counts add up several runs: " over 3 runs"; "" for one.
func overRuns(r *Result) string {
	if len(r.Runs) <= 1 {
		return ""
	}
	return fmt.Sprintf(" over %d runs", len(r.Runs))
}

func targetText(r *Result) string {
	t, _ := target(r)
	return t
}

func targetCell(r *Result) string {
	t, met := target(r)
	if met == nil {
		return t
	}
	if met() {
		return t + " — met"
	}
	return t + " — **not met**"
}

func memorySection(rep *Report) string {
	m := rep.Memory
	if m == nil {
		return "_The memory scenario did not run in this run._\n"
	}
	var b strings.Builder
	if m.Errors > 0 {
		fmt.Fprintf(&b, "**The memory scenario failed:** %s\n\n", m.FirstErr)
	}
	b.WriteString("| companies × users × groups | written through the API | loaded (one LookupAccessFilter each) | RSS before → after | RSS per company | Go heap in use before → after | heap per company |\n")
	b.WriteString("|----------------------------|------------------------:|-------------------------------------:|-------------------:|----------------:|------------------------------:|-----------------:|\n")
	fmt.Fprintf(&b, "| %s × %d × %d | %.1f s (%s calls) | %.1f s | %.1f → **%.1f MiB** | **%.1f KiB** | %.1f → %.1f MiB | %.1f KiB |\n",
		count(m.Companies), m.UsersPerCompany, m.GroupsPerCompany, m.SeedSeconds, count(m.Calls), m.LoadSeconds,
		m.Before.RSSBytes/(1<<20), m.After.RSSBytes/(1<<20), m.RSSPerCompany/1024,
		m.Before.HeapInuseBytes/(1<<20), m.After.HeapInuseBytes/(1<<20), m.HeapPerCompany/1024)
	fmt.Fprintf(&b, "\nRead from the visibility's `/metrics` (`process_resident_memory_bytes`, `go_memstats_heap_inuse_bytes`); it held %s companies afterwards (`sightline_visibility_companies_loaded`, the demo company included).\n",
		count(int(m.After.CompaniesLoaded)))
	return b.String()
}

func intakeSection(rep *Report) string {
	var b strings.Builder
	var errs, notRun []string
	rows := 0
	for _, g := range rep.groups("intake") {
		for _, r := range rep.inGroup(g) {
			switch {
			case r.Status == "pending": // results of older load commands (bench/results.json) hold pending rows
				notRun = append(notRun, fmt.Sprintf("%s: _pending_ — %s", r.Name, r.Note))
				continue
			case r.Status != "ok":
				notRun = append(notRun, fmt.Sprintf("%s at %d: **%s** — %s", r.Name, r.Concurrency, strings.ToUpper(r.Status), r.Note))
				continue
			case r.Errors > 0 && len(r.Runs) <= 1 && r.Requests == r.Errors:
				errs = append(errs, fmt.Sprintf("%s at %d: **failed** — %s", r.Name, r.Concurrency, r.FirstErr))
				continue
			case r.Errors > 0:
				errs = append(errs, fmt.Sprintf("%s at %d: %d of %d%s failed (first: %s)", r.Name, r.Concurrency, r.Errors, r.Requests,
					overRuns(&r), r.FirstErr))
			}
			if rows == 0 {
				b.WriteString("| scenario | conc | messages per run | rate (msgs/s) | p50 ms | p95 ms | p99 ms | vs its ceiling | target |\n")
				b.WriteString("|----------|-----:|-----------------:|--------------:|-------:|-------:|-------:|---------------:|--------|\n")
			}
			rows++
			name := r.Name
			ceiling := strings.HasSuffix(r.Name, "(ceiling)")
			if ceiling {
				name = "_" + name + "_"
			}
			rate, p50, p95, p99 := "", "", "", ""
			if r.Rate > 0 {
				rate = num(r.Rate)
				if !ceiling {
					rate = "**" + rate + "**"
				}
			}
			if r.P50ms > 0 {
				p50, p95, p99 = fmt.Sprintf("%.1f", r.P50ms), fmt.Sprintf("%.1f", r.P95ms), fmt.Sprintf("%.1f", r.P99ms)
				if strings.HasPrefix(r.Name, "new mail") {
					p50 = "**" + p50 + "**"
				}
			}
			vs := ""
			if r.Ceiling != "" {
				switch {
				case r.RateRatio > 0:
					vs = ratioCell(&r, true) + " of the rate"
				case r.P99Ratio > 0:
					vs = ratioCell(&r, false) + " the p99"
				}
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", name, r.Concurrency, count(r.perRun()), rate, p50, p95, p99, vs, targetCell(&r))
		}
	}
	if rows > 0 {
		b.WriteString("\n")
	}
	for _, e := range errs {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	for _, n := range notRun {
		fmt.Fprintf(&b, "- not measured: %s\n", n)
	}
	if rows > 0 && len(errs) == 0 && len(notRun) == 0 {
		b.WriteString("No request failed.\n")
	}
	if b.Len() == 0 {
		return "_No intake scenario in this run._\n"
	}
	return b.String()
}

// soakSection: totals, per kind, and the time series of a soak.
func soakSection(s *Soak) string {
	var b strings.Builder
	mib := func(v float64) string { return fmt.Sprintf("%.1f", v/(1<<20)) }
	fmt.Fprintf(&b, "**%s at %d requests/s** (achieved %s/s; %d requests could not start on schedule): **%s requests, %s errors**; p50 %.2f ms, p99 %.2f ms.\n\n",
		s.Duration, s.TargetRate, num(s.AchievedRate), s.Dropped, count(s.Requests), count(s.Errors), s.P50ms, s.P99ms)
	fmt.Fprintf(&b, "Resident memory (`process_resident_memory_bytes`): visibility %s → **%s MiB** (min %s, max %s), mailbox %s → **%s MiB** (min %s, max %s).\n\n",
		mib(s.VisibilityRSS.Start), mib(s.VisibilityRSS.End), mib(s.VisibilityRSS.Min), mib(s.VisibilityRSS.Max),
		mib(s.MailboxRSS.Start), mib(s.MailboxRSS.End), mib(s.MailboxRSS.Min), mib(s.MailboxRSS.Max))
	b.WriteString("| kind | group | share | requests | errors | p50 ms | p99 ms |\n")
	b.WriteString("|------|-------|------:|---------:|-------:|-------:|-------:|\n")
	for _, k := range s.Kinds {
		fmt.Fprintf(&b, "| %s | %s | %d%% | %s | %s | %.2f | %.2f |\n", k.Name, k.Group, k.Weight, count(k.Requests), count(k.Errors), k.P50ms, k.P99ms)
	}
	groups := []string{"decisions", "detail views", "sharing", "ingest"}
	unit := "s"
	div := 1.0
	if s.BucketSeconds >= 60 {
		unit, div = "min", 60
	}
	fmt.Fprintf(&b, "\n| from (%s) | requests | errors | p50 ms | p99 ms |", unit)
	for _, g := range groups {
		fmt.Fprintf(&b, " p99 %s |", g)
	}
	b.WriteString(" visibility RSS MiB | mailbox RSS MiB |\n|---:|---:|---:|---:|---:|")
	for range groups {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---:|\n")
	for _, k := range s.Buckets {
		fmt.Fprintf(&b, "| %.0f | %s | %s | %.2f | **%.2f** |", k.StartSeconds/div, count(k.Requests), count(k.Errors), k.P50ms, k.P99ms)
		for _, g := range groups {
			fmt.Fprintf(&b, " %.2f |", k.GroupP99ms[g])
		}
		fmt.Fprintf(&b, " %s | %s |\n", mib(k.VisibilityRSS), mib(k.MailboxRSS))
	}
	if s.FirstErr != "" {
		fmt.Fprintf(&b, "\nFirst error: %s\n", s.FirstErr)
	}
	fmt.Fprintf(&b, "\nMix: %s.\n", s.Mix)
	return b.String()
}

func chartsSection(charts []chart, dir string) string {
	if len(charts) == 0 {
		return "_No charts._\n"
	}
	var b strings.Builder
	for _, c := range charts {
		fmt.Fprintf(&b, "![%s](%s/%s)\n", c.Title, dir, c.File)
	}
	return b.String()
}

// count formats an integer with thousands separators.
func count(n int) string {
	if n < 100 {
		return fmt.Sprint(n)
	}
	return num(float64(n))
}

// num formats a non-negative figure with thousands separators: 3 significant
// digits below 100, none after the point above.
func num(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
