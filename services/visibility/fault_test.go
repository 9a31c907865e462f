package visibility_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/visibility"
)

// TestFault_PostgresRestartUnderLoad: PostgreSQL stops and starts again
// while writers register items and readers ask for decisions. The service
// reports NOT_SERVING, answers UNAVAILABLE (never INTERNAL, never a wrong
// decision) while the database is away, recovers by itself without a
// restart, and every write it acknowledged is there afterwards; changes made
// after the restart reach decisions.
//
// A second replica that holds the company in memory from before the outage
// and is asked without min_version sees a change made through the first one
// after the restart: only its change listener (LISTEN/NOTIFY, reconnected
// after the outage, catching up on reconnecting) refreshes it then.
func TestFault_PostgresRestartUnderLoad(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t, migrated)
	in := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url})
	e := &env{Instance: in, client: visibilityv1.NewVisibilityServiceClient(in.Conn), dbURL: url}
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	c.user(1, 0, perms{change: true})
	c.user(2, 0, perms{})

	// The second replica loads the company (and a deal user 2 may not see)
	// before the outage.
	const watched = 1_000_000 // an id the writers below never reach
	c.item(1, &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: watched, OwnerId: 1,
		VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_OWNER})
	replica := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: in.AuthKeys})
	replicaClient := visibilityv1.NewVisibilityServiceClient(replica.Conn)
	watchedAt2 := func(ctx context.Context) (*visibilityv1.CheckAccessResponse, error) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return replicaClient.CheckAccess(ctx, &visibilityv1.CheckAccessRequest{UserId: 2,
			Item: ref(visibilityv1.ItemType_ITEM_TYPE_DEAL, watched)}) // no min_version
	}
	if r, err := watchedAt2(e.Service(t, 1)); err != nil || r.GetAllowed() {
		t.Fatalf("second replica before the outage: %v, %v; want deal %d not visible to user 2", r, err, watched)
	}

	var (
		acked   sync.Map // item id -> visible_to acknowledged
		nextID  atomic.Int64
		bad     atomic.Value
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		outages atomic.Int64
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
	svc := e.Service(t, 1)
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
				id := nextID.Add(1)
				vt := visibilityv1.VisibleTo_VISIBLE_TO_OWNER
				if id%2 == 0 {
					vt = visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY
				}
				ctx, cancel := context.WithTimeout(svc, 3*time.Second)
				up, err := e.client.UpsertItem(ctx, &visibilityv1.UpsertItemRequest{ActingUserId: 1,
					Item: &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: id, OwnerId: 1, VisibleTo: vt}})
				cancel()
				record(err)
				if err == nil {
					acked.Store(id, vt)
				}
				if w == 0 && err == nil {
					// A reader: user 2 sees exactly the company-wide deals. It
					// asks at the write's version: the write commits before the
					// writer refreshes the replica's memory, and the database may
					// go away in between; a decision at min_version is then
					// UNAVAILABLE, never one from before the write.
					ctx, cancel := context.WithTimeout(svc, 3*time.Second)
					r, err := e.client.CheckAccess(ctx, &visibilityv1.CheckAccessRequest{UserId: 2,
						Item: ref(visibilityv1.ItemType_ITEM_TYPE_DEAL, id), MinVersion: up.GetVersion()})
					cancel()
					record(err)
					if err == nil && r.GetAllowed() != (vt == visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY) {
						bad.Store(status.Errorf(codes.Internal, "deal %d: allowed=%v with visible_to %v", id, r.GetAllowed(), vt))
					}
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
	countAcked := func() int {
		n := 0
		acked.Range(func(any, any) bool { n++; return true })
		return n
	}
	waitFor("50 writes before the outage", func() bool { return countAcked() >= 50 })
	cluster.Stop(t)
	waitFor("NOT_SERVING while PostgreSQL is down", health(healthpb.HealthCheckResponse_NOT_SERVING))
	waitFor("calls failing during the outage", func() bool { return outages.Load() > 0 })
	before := countAcked()
	cluster.Start(t)
	waitFor("SERVING again without a restart", health(healthpb.HealthCheckResponse_SERVING))
	waitFor("writes acknowledged after the restart", func() bool { return countAcked() >= before+50 })
	close(stop)
	wg.Wait()
	if err, _ := bad.Load().(error); err != nil {
		t.Fatalf("a call failed other than UNAVAILABLE, or decided wrongly: %v", err)
	}

	// Every acknowledged write survived, with its value.
	acked.Range(func(k, v any) bool {
		it := c.getItem(visibilityv1.ItemType_ITEM_TYPE_DEAL, k.(int64))
		if it.GetVisibleTo() != v.(visibilityv1.VisibleTo) {
			t.Errorf("deal %d: visible_to %v, acknowledged %v", k, it.GetVisibleTo(), v)
		}
		return true
	})
	// A change after the restart reaches decisions at its version.
	resp := c.item(1, &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: 1,
		OwnerId: 1, VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY})
	if !c.check(2, visibilityv1.ItemType_ITEM_TYPE_DEAL, 1, resp.GetVersion()).GetAllowed() {
		t.Fatal("a change made after the restart does not reach decisions")
	}
	// The second replica, asked without min_version, learns of a change made
	// through the first only from a notification (or the catch-up of a
	// listener that reconnected).
	resp = c.item(1, &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: watched,
		OwnerId: 1, VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY})
	deadline := time.Now().Add(20 * time.Second) // a liveness bound, not a speed assertion
	for {
		r, err := watchedAt2(e.Service(t, 1))
		if err == nil && r.GetAllowed() {
			if r.GetVersion() < resp.GetVersion() {
				t.Fatalf("second replica allowed at version %d, before the change's %d", r.GetVersion(), resp.GetVersion())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second replica never saw a change made after the restart (last answer %v, %v): its change listener did not reconnect\n%s",
				r, err, replica.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d writes acknowledged, %d calls refused with UNAVAILABLE during the outage", countAcked(), outages.Load())
}
