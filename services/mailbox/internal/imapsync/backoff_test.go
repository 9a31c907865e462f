package imapsync

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithJitterUpToTheMaximum(t *testing.T) {
	m := &Manager{cfg: Config{RetryMin: time.Second, RetryMax: 10 * time.Second}}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 50: 10 * time.Second} {
		for range 100 {
			if got := m.backoff(n); got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %s, want between %s and %s", n, got, want/2, want)
			}
		}
	}
}

func TestWindowStart(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	for w, want := range map[int16]time.Time{
		1: time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
		2: now.AddDate(0, -1, 0),
		3: now.AddDate(0, -3, 0),
		4: now.AddDate(0, -6, 0),
		5: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC),
		6: time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC),
		0: time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
	} {
		if got := windowStart(w, now); !got.Equal(want) {
			t.Errorf("windowStart(%d) = %s, want %s", w, got, want)
		}
	}
}
