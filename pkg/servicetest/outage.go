package servicetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Restartable is a database that can be stopped and started again under a
// running service (pgtest.Cluster).
type Restartable interface {
	Stop(t testing.TB)
	Start(t testing.TB)
}

// Load counts what a load did during an outage: calls acknowledged, calls
// refused as the outage allows (UNAVAILABLE, DEADLINE_EXCEEDED), and the
// last failure of any other kind.
type Load struct {
	acked, refused atomic.Int64
	bad            atomic.Value
}

// Record classifies a call's outcome and reports whether it succeeded.
func (l *Load) Record(err error) bool {
	switch status.Code(err) {
	case codes.OK:
		return true
	case codes.Unavailable, codes.DeadlineExceeded:
		l.refused.Add(1)
	default:
		l.bad.Store(err)
	}
	return false
}

// Ack counts an acknowledged call (a write the test will look for later).
func (l *Load) Ack() { l.acked.Add(1) }

// Fail records a wrong answer found by the load's own checks.
func (l *Load) Fail(err error) { l.bad.Store(err) }

// Acked and Refused return the counts so far.
func (l *Load) Acked() int64   { return l.acked.Load() }
func (l *Load) Refused() int64 { return l.refused.Load() }

// PostgresOutage runs step in a loop on each of workers goroutines (5 ms
// apart) against a service whose health is served on conn, while db stops
// and starts again: it waits for 50 acknowledged calls, stops db, waits
// until the service says NOT_SERVING and a call was refused, starts db,
// waits until it says SERVING again (no restart) and 50 more calls were
// acknowledged, then stops the load. The test fails when any call failed
// other than as the outage allows, or step reported a wrong answer. The
// waits are liveness bounds (60 s each), not speed assertions.
func PostgresOutage(t *testing.T, db Restartable, conn *grpc.ClientConn, workers int, step func(w int, l *Load)) *Load {
	t.Helper()
	l := &Load{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				step(w, l)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("never: %s (last unexpected error: %v)", what, l.bad.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	health := func(want healthpb.HealthCheckResponse_ServingStatus) func() bool {
		return func() bool {
			r, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
			return err == nil && r.GetStatus() == want
		}
	}
	waitFor("50 acknowledged calls before the outage", func() bool { return l.Acked() >= 50 })
	db.Stop(t)
	waitFor("NOT_SERVING while PostgreSQL is down", health(healthpb.HealthCheckResponse_NOT_SERVING))
	waitFor("calls refused during the outage", func() bool { return l.Refused() > 0 })
	before := l.Acked()
	db.Start(t)
	waitFor("SERVING again without a restart", health(healthpb.HealthCheckResponse_SERVING))
	waitFor("calls acknowledged after the restart", func() bool { return l.Acked() >= before+50 })
	close(stop)
	wg.Wait()
	if err, _ := l.bad.Load().(error); err != nil {
		t.Fatalf("a call failed other than UNAVAILABLE, or answered wrongly: %v", err)
	}
	return l
}
