// Command sightline-report turns the load command's results (bench/results.json)
// into the tables of BENCHMARKS.md and PNG charts:
//
//	go run . --results ../results.json --markdown ../../BENCHMARKS.md --charts ../charts
//
// In the Markdown file it replaces only what stands between marker comments
// such as <!-- bench:visibility:begin --> and <!-- bench:visibility:end -->,
// keeping everything else (the hand-written analysis) as it is. Sections:
// machine, seeding, visibility, mailbox, memory, intake, soak (only when the
// results hold a soak: a run without one leaves it as it is), charts;
// --sections limits it to some of them (make bench-soak: soak). A marker
// pair missing from the file is an error, so the report cannot silently
// stop updating a section.
//
// Charts (gonum.org/v1/plot), one pair per group of scenarios (visibility x1,
// visibility x10, mailbox x1, ...): <group>-latency.png, p50 and p99 versus
// concurrency beside the empty call's; <group>-rate.png, each scenario's rate
// as a percentage of the empty call's measured beside it.
//
// This is its own Go module, so that the services' go.mod does not carry
// plotting dependencies; it reads only the JSON and imports nothing of the
// project.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sightline-report:", err)
		os.Exit(1)
	}
}

func run() error {
	results := flag.String("results", "bench/results.json", "the load command's JSON")
	md := flag.String("markdown", "BENCHMARKS.md", "the Markdown file whose marked sections are regenerated")
	out := flag.String("out", "", "write the Markdown here instead of over --markdown")
	charts := flag.String("charts", "bench/charts", "directory for the PNG charts (created; old charts of this report are replaced)")
	only := flag.String("sections", "", "regenerate only these sections (comma-separated, e.g. soak); charts are drawn only when charts is among them. Empty: all")
	flag.Parse()
	var want []string
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want = append(want, n)
		}
	}
	drawing := len(want) == 0 || slices.Contains(want, "charts")
	if *out == "" {
		*out = *md
	}

	b, err := os.ReadFile(*results)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", *results, err)
	}
	if len(rep.Results) == 0 && rep.Memory == nil && rep.Soak == nil {
		return fmt.Errorf("%s: no results", *results)
	}

	var drawn []chart
	if drawing {
		if err := os.MkdirAll(*charts, 0o755); err != nil {
			return err
		}
		old, _ := filepath.Glob(filepath.Join(*charts, "*.png"))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
		if drawn, err = drawCharts(&rep, *charts); err != nil {
			return err
		}
	}
	// Links are relative to where the Markdown is written (absolute paths
	// first, so that one of them may be absolute and the other not).
	outDir, err := filepath.Abs(filepath.Dir(*out))
	if err != nil {
		return err
	}
	chartDir, err := filepath.Abs(*charts)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(outDir, chartDir)
	if err != nil {
		return err
	}

	src, err := os.ReadFile(*md)
	if err != nil {
		return err
	}
	sections := renderSections(&rep, drawn, filepath.ToSlash(rel))
	if len(want) > 0 {
		for name := range sections {
			if !slices.Contains(want, name) {
				delete(sections, name)
			}
		}
		for _, name := range want {
			if _, ok := sections[name]; !ok {
				return fmt.Errorf("--sections: %s has nothing for section %q", *results, name)
			}
		}
	}
	text, err := replaceSections(string(src), sections)
	if err != nil {
		return fmt.Errorf("%s: %w", *md, err)
	}
	if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sightline-report: %d results -> %s (%d sections), %d charts in %s\n",
		len(rep.Results), *out, len(sections), len(drawn), *charts)
	return nil
}

// replaceSections replaces the text between <!-- bench:NAME:begin --> and
// <!-- bench:NAME:end --> for every NAME of sections.
func replaceSections(src string, sections map[string]string) (string, error) {
	var missing []string
	for _, name := range sortedKeys(sections) {
		begin, end := "<!-- bench:"+name+":begin -->", "<!-- bench:"+name+":end -->"
		i := strings.Index(src, begin)
		j := strings.Index(src, end)
		if i < 0 || j < i {
			missing = append(missing, begin+" … "+end)
			continue
		}
		body := strings.TrimRight(sections[name], "\n")
		src = src[:i+len(begin)] + "\n" + body + "\n" + src[j:]
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("marker pairs missing or out of order: %s", strings.Join(missing, ", "))
	}
	return src, nil
}
