package visibility_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
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
		acked  sync.Map // item id -> visible_to acknowledged
		nextID atomic.Int64
	)
	svc := e.Service(t, 1)
	load := servicetest.PostgresOutage(t, cluster, in.Conn, 3, func(w int, l *servicetest.Load) {
		id := nextID.Add(1)
		vt := visibilityv1.VisibleTo_VISIBLE_TO_OWNER
		if id%2 == 0 {
			vt = visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY
		}
		ctx, cancel := context.WithTimeout(svc, 3*time.Second)
		up, err := e.client.UpsertItem(ctx, &visibilityv1.UpsertItemRequest{ActingUserId: 1,
			Item: &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: id, OwnerId: 1, VisibleTo: vt}})
		cancel()
		if !l.Record(err) {
			return
		}
		l.Ack()
		acked.Store(id, vt)
		if w == 0 {
			// A reader: user 2 sees exactly the company-wide deals. It
			// asks at the write's version: the write commits before the
			// writer refreshes the replica's memory, and the database may
			// go away in between; a decision at min_version is then
			// UNAVAILABLE, never one from before the write.
			ctx, cancel := context.WithTimeout(svc, 3*time.Second)
			r, err := e.client.CheckAccess(ctx, &visibilityv1.CheckAccessRequest{UserId: 2,
				Item: ref(visibilityv1.ItemType_ITEM_TYPE_DEAL, id), MinVersion: up.GetVersion()})
			cancel()
			if l.Record(err) && r.GetAllowed() != (vt == visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY) {
				l.Fail(status.Errorf(codes.Internal, "deal %d: allowed=%v with visible_to %v", id, r.GetAllowed(), vt))
			}
		}
	})

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
	t.Logf("%d writes acknowledged, %d calls refused with UNAVAILABLE during the outage", load.Acked(), load.Refused())
}
