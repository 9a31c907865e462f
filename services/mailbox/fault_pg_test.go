package mailbox_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// TestFault_PostgresRestartUnderIngest: PostgreSQL stops and starts again
// while messages are ingested and inboxes listed. The mailbox reports
// NOT_SERVING, answers UNAVAILABLE (never INTERNAL) while the database is
// away, recovers without a restart, and every acknowledged message is there
// afterwards, exactly once.
func TestFault_PostgresRestartUnderIngest(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t, migrated)
	in := servicetest.Start(t, mailbox.ServiceWithVisibility(visibilityclient.NewTable()),
		servicetest.Options{DatabaseURL: url, Args: []string{"--sync-workers", "0"}})
	mb := mailboxv1.NewMailboxServiceClient(in.Conn)
	svc, me := in.Service(t, company), in.User(t, company, owner)

	var (
		acked, outages atomic.Int64
		next           atomic.Int64
		bad            atomic.Value
		stop           = make(chan struct{})
		wg             sync.WaitGroup
		ackedIDs       sync.Map
	)
	record := func(err error) {
		switch status.Code(err) {
		case codes.OK:
		case codes.Unavailable, codes.DeadlineExceeded:
			outages.Add(1)
		default:
			bad.Store(err)
		}
	}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := next.Add(1)
				id := fmt.Sprintf("fault-%d@x", i)
				ctx, cancel := context.WithTimeout(svc, 3*time.Second)
				_, err := mb.IngestMessage(ctx, &mailboxv1.IngestMessageRequest{UserId: owner, Folder: "INBOX",
					Raw: inbound(id, fmt.Sprintf("Fault %d", i)).raw()})
				cancel()
				record(err)
				if err == nil {
					acked.Add(1)
					ackedIDs.Store(id, true)
				}
				if w == 0 {
					ctx, cancel := context.WithTimeout(me, 3*time.Second)
					_, err := mb.ListThreads(ctx, &mailboxv1.ListThreadsRequest{Folder: inbox})
					cancel()
					record(err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second) // a liveness bound, not a speed assertion
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s (last unexpected error: %v)", what, bad.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	health := func(want healthpb.HealthCheckResponse_ServingStatus) func() bool {
		return func() bool {
			r, err := healthpb.NewHealthClient(in.Conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
			return err == nil && r.GetStatus() == want
		}
	}
	waitFor("50 messages before the outage", func() bool { return acked.Load() >= 50 })
	cluster.Stop(t)
	waitFor("NOT_SERVING while PostgreSQL is down", health(healthpb.HealthCheckResponse_NOT_SERVING))
	waitFor("calls failing during the outage", func() bool { return outages.Load() > 0 })
	before := acked.Load()
	cluster.Start(t)
	waitFor("SERVING again without a restart", health(healthpb.HealthCheckResponse_SERVING))
	waitFor("messages acknowledged after the restart", func() bool { return acked.Load() >= before+50 })
	close(stop)
	wg.Wait()
	if err, _ := bad.Load().(error); err != nil {
		t.Fatalf("a call failed other than UNAVAILABLE: %v", err)
	}

	// Every acknowledged message is stored, exactly once.
	pool := openPool(t, url, 2)
	copies := map[string]int{}
	rows, err := pool.Query(context.Background(), `SELECT internet_message_id FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		copies[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ackedIDs.Range(func(k, _ any) bool {
		if n := copies[k.(string)]; n != 1 {
			t.Errorf("acknowledged message %s is stored %d times", k, n)
		}
		return true
	})
	stored := len(copies)
	t.Logf("%d messages acknowledged (%d stored, the rest unacknowledged but committed), %d calls refused during the outage",
		acked.Load(), stored, outages.Load())
}
