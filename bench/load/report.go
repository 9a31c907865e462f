package load

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Report is what sightline-load writes as JSON (bench/results.json) and
// bench/cmd/sightline-report reads (it has its own copy of these types).
type Report struct {
	Time           string        `json:"time"` // RFC 3339, UTC, when the run ended
	ElapsedSeconds float64       `json:"elapsed_seconds"`
	Machine        Machine       `json:"machine"`
	Config         Config        `json:"config"`
	Seeding        []Seeding     `json:"seeding"`
	Results        []Result      `json:"results"`
	Memory         *MemoryResult `json:"memory,omitempty"`
	Soak           *SoakResult   `json:"soak,omitempty"`
}

// Config is how the run was asked for.
type Config struct {
	Args         []string `json:"args"`
	Duration     string   `json:"duration"` // per scenario and run, after a warm-up
	Runs         int      `json:"runs"`
	Concurrency  []int    `json:"concurrency"`
	Scales       []int    `json:"scales"`
	MailboxScale float64  `json:"mailbox_scale"`
}

// Seeding is how long one data set took to write.
type Seeding struct {
	DataSet string  `json:"data_set"`
	Seconds float64 `json:"seconds"`
	Calls   int     `json:"api_calls,omitempty"` // write RPCs
	Note    string  `json:"note,omitempty"`
	Phases  []Phase `json:"phases,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model,omitempty"`
	MemTotalBytes int64  `json:"mem_total_bytes,omitempty"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	Go            string `json:"go"`
}

// ThisMachine reads the CPU count, model and memory (from /proc on Linux).
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	scan := func(path string, f func(k, v string)) {
		fh, err := os.Open(path)
		if err != nil {
			return
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
				f(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
	}
	scan("/proc/cpuinfo", func(k, v string) {
		if k == "model name" && m.CPUModel == "" {
			m.CPUModel = v
		}
	})
	scan("/proc/meminfo", func(k, v string) {
		if k == "MemTotal" {
			if kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
				m.MemTotalBytes = kb * 1024
			}
		}
	})
	return m
}
