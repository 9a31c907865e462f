package mailbox_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
)

// A start that fails after the sync workers began (here: the Smart Bcc
// port is taken) stops them and returns the error, instead of waiting
// forever for workers that only stop at shutdown (regression: it hung).
func TestWire_FailedStartStopsBackgroundWork(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	svc := mailbox.Service()
	svc.NoEnv = true
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- cli.Run(context.Background(), svc, []string{"serve", "--database-url", pgtest.New(t, migrated),
			"--auth-keys", servicetest.NewKeySpec(t), "--migrate-on-start", "--grpc-addr", "127.0.0.1:0", "--metrics-addr", "",
			"--sync-workers", "2", "--smtp-addr", taken.Addr().String()}, &out, &out)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "smart bcc") {
			t.Fatalf("got %v, want the Smart Bcc listen error", err)
		}
	case <-time.After(60 * time.Second): // a liveness bound, not a speed assertion
		t.Fatal("the failed start hangs")
	}
}
