package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The JSON of bench/results.json, as written by bench/cmd/sightline-load
// (bench/load/report.go and runner.go); only the fields the report uses.

// Report is the whole file.
type Report struct {
	Time           string        `json:"time"`
	ElapsedSeconds float64       `json:"elapsed_seconds"`
	Machine        Machine       `json:"machine"`
	Config         Config        `json:"config"`
	Seeding        []Seeding     `json:"seeding"`
	Results        []Result      `json:"results"`
	Memory         *MemoryResult `json:"memory"`
	Soak           *Soak         `json:"soak"`
}

// Soak is the soak of the load command (--soak).
type Soak struct {
	Duration      string  `json:"duration"`
	TargetRate    int     `json:"target_rate_per_s"`
	AchievedRate  float64 `json:"achieved_rate_per_s"`
	BucketSeconds float64 `json:"bucket_seconds"`
	Requests      int     `json:"requests"`
	Errors        int     `json:"errors"`
	Dropped       int     `json:"dropped"`
	P50ms         float64 `json:"p50_ms"`
	P99ms         float64 `json:"p99_ms"`
	Kinds         []struct {
		Name     string  `json:"name"`
		Group    string  `json:"group"`
		Weight   int     `json:"weight_percent"`
		Requests int     `json:"requests"`
		Errors   int     `json:"errors"`
		P50ms    float64 `json:"p50_ms"`
		P99ms    float64 `json:"p99_ms"`
	} `json:"kinds"`
	Buckets []struct {
		StartSeconds  float64            `json:"start_seconds"`
		Requests      int                `json:"requests"`
		Errors        int                `json:"errors"`
		P50ms         float64            `json:"p50_ms"`
		P99ms         float64            `json:"p99_ms"`
		GroupP99ms    map[string]float64 `json:"group_p99_ms"`
		VisibilityRSS float64            `json:"visibility_rss_bytes"`
		MailboxRSS    float64            `json:"mailbox_rss_bytes"`
	} `json:"buckets"`
	VisibilityRSS SoakRSS `json:"visibility_rss"`
	MailboxRSS    SoakRSS `json:"mailbox_rss"`
	Mix           string  `json:"mix"`
	FirstErr      string  `json:"first_error"`
}

// SoakRSS is one service's resident memory during a soak, in bytes.
type SoakRSS struct {
	Start float64 `json:"start_bytes"`
	End   float64 `json:"end_bytes"`
	Min   float64 `json:"min_bytes"`
	Max   float64 `json:"max_bytes"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model"`
	MemTotalBytes int64  `json:"mem_total_bytes"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	Go            string `json:"go"`
}

// Config is how the run was asked for.
type Config struct {
	Args         []string `json:"args"`
	Duration     string   `json:"duration"`
	Runs         int      `json:"runs"`
	Concurrency  []int    `json:"concurrency"`
	Scales       []int    `json:"scales"`
	MailboxScale float64  `json:"mailbox_scale"`
}

// Seeding is how long one data set took to write.
type Seeding struct {
	DataSet string  `json:"data_set"`
	Seconds float64 `json:"seconds"`
	Calls   int     `json:"api_calls"`
	Note    string  `json:"note"`
	Phases  []struct {
		Name    string  `json:"name"`
		Seconds float64 `json:"seconds"`
		Calls   int     `json:"api_calls"`
	} `json:"phases"`
}

// Result is one scenario (medians over its runs).
type Result struct {
	Scenario    string  `json:"scenario"`
	Group       string  `json:"group"`
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency"`
	Status      string  `json:"status"`
	Note        string  `json:"note"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Rate        float64 `json:"rate_per_s"`
	Units       int     `json:"units_per_request"`
	UnitRate    float64 `json:"unit_rate_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	Ceiling     string  `json:"ceiling"`
	// CeilingRate is the rate of the ceiling measured beside this scenario
	// (0 in results written before the load command recorded it: see
	// pairedCeiling).
	CeilingRate float64      `json:"ceiling_rate_per_s"`
	RateRatio   float64      `json:"rate_ratio"`
	P99Ratio    float64      `json:"p99_ratio"`
	FirstErr    string       `json:"first_error"`
	Runs        []RunFigures `json:"runs"`
}

// RunFigures is one run's figures of a Result.
type RunFigures struct {
	Rate      float64 `json:"rate_per_s"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	RateRatio float64 `json:"rate_ratio"`
	P99Ratio  float64 `json:"p99_ratio"`
}

// MemoryResult is the memory scenario.
type MemoryResult struct {
	Status           string    `json:"status"`
	Companies        int       `json:"companies"`
	UsersPerCompany  int       `json:"users_per_company"`
	GroupsPerCompany int       `json:"groups_per_company"`
	Calls            int       `json:"seed_calls"`
	SeedSeconds      float64   `json:"seed_seconds"`
	LoadSeconds      float64   `json:"load_seconds"`
	Before           MemSample `json:"before"`
	After            MemSample `json:"after"`
	RSSPerCompany    float64   `json:"rss_bytes_per_company"`
	HeapPerCompany   float64   `json:"heap_inuse_bytes_per_company"`
	Errors           int       `json:"errors"`
	FirstErr         string    `json:"first_error"`
}

// MemSample is one read of /metrics.
type MemSample struct {
	RSSBytes        float64 `json:"process_resident_memory_bytes"`
	HeapInuseBytes  float64 `json:"go_memstats_heap_inuse_bytes"`
	CompaniesLoaded float64 `json:"sightline_visibility_companies_loaded"`
}

const emptyCall = "empty call (health Check)"

func (r *Result) isEmpty() bool { return r.Name == emptyCall }

// perRun is r.Requests of one run: the load command adds them up over the
// runs, which Runs lists (none for a scenario that was not measured).
func (r *Result) perRun() int {
	if len(r.Runs) <= 1 {
		return r.Requests
	}
	return int(math.Round(float64(r.Requests) / float64(len(r.Runs))))
}

// ceilingKey is how a scenario names its ceiling (Result.Ceiling): "<scenario> @<concurrency>".
func (r *Result) ceilingKey() string { return fmt.Sprintf("%s @%d", r.Scenario, r.Concurrency) }

// pairedCeiling returns, for each result of rs compared with a ceiling, the
// index in rs of the ceiling measured beside it. The load command writes a
// ceiling just before the scenario it is paired with (load.Paired), and a
// group may hold the same ceiling at the same concurrency several times
// (the mailbox's empty call at 8, beside the detail view and beside
// IngestMessage): the ceiling is the nearest one before the scenario with
// the name and concurrency the scenario records.
func pairedCeiling(rs []Result) map[int]int {
	out := map[int]int{}
	for i, r := range rs {
		if r.Ceiling == "" {
			continue
		}
		for j := i - 1; j >= 0; j-- {
			if rs[j].ceilingKey() == r.Ceiling {
				out[i] = j
				break
			}
		}
	}
	return out
}

// groups returns the results' groups in order of first appearance, those
// starting with prefix.
func (rep *Report) groups(prefix string) []string {
	var out []string
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Group, prefix) && !slices.Contains(out, r.Group) {
			out = append(out, r.Group)
		}
	}
	return out
}

func (rep *Report) inGroup(g string) []Result {
	var out []Result
	for _, r := range rep.Results {
		if r.Group == g {
			out = append(out, r)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// slug turns a group name into a file name part: "visibility x10" -> "visibility-x10".
func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}
