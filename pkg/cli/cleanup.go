package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

type cleanup struct {
	name string
	fn   func()
}

// cleanupStack runs cleanups last-in-first-out, each under a timeout so one
// stuck cleanup cannot hang the process forever.
type cleanupStack []cleanup

func (s *cleanupStack) push(name string, fn func()) { *s = append(*s, cleanup{name, fn}) }

func (s cleanupStack) run(log *zap.Logger) {
	for i := len(s) - 1; i >= 0; i-- {
		done := make(chan struct{})
		go func() { defer close(done); s[i].fn() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			log.Warn("cleanup timed out", zap.String("cleanup", s[i].name))
		}
	}
}
