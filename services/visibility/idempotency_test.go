package visibility_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// TestAIP155_CreateGroupRequestIDIsIdempotent: a retry with the same
// request_id returns the first result and creates nothing; the same
// request_id for a different group is ALREADY_EXISTS.
func TestAIP155_CreateGroupRequestIDIsIdempotent(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_PROFESSIONAL)
	parent := c.group("parent", 0, nil)
	req := &visibilityv1.CreateGroupRequest{RequestId: "7b0c-retry", Group: &visibilityv1.Group{Name: "Sales", ParentId: parent,
		DefaultVisibility: &visibilityv1.DefaultVisibility{Deal: vtOwner}}}

	first := servicetest.Try(e.client.CreateGroup(c.svc, req)).Must(t)
	before := snapshotDB(t, conn)
	for range 3 {
		again := servicetest.Try(e.client.CreateGroup(c.svc, req)).Must(t)
		if !proto.Equal(again.GetGroup(), first.GetGroup()) || again.GetVersion() != first.GetVersion() {
			t.Fatalf("retry = %v, first = %v", again, first)
		}
	}
	if after := snapshotDB(t, conn); after != before {
		t.Fatalf("a retry changed the database:\nbefore\n%s\nafter\n%s", before, after)
	}
	if n := c.company().GetCustomGroupCount(); n != 2 {
		t.Fatalf("custom_group_count = %d, want 2", n)
	}

	// The same request id for a different group.
	for name, g := range map[string]*visibilityv1.Group{
		"other name":       {Name: "Marketing", ParentId: parent, DefaultVisibility: &visibilityv1.DefaultVisibility{Deal: vtOwner}},
		"other parent":     {Name: "Sales", DefaultVisibility: &visibilityv1.DefaultVisibility{Deal: vtOwner}},
		"other visibility": {Name: "Sales", ParentId: parent},
	} {
		_, err := e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{RequestId: req.GetRequestId(), Group: g})
		wantErr(t, err, codes.AlreadyExists, reasonRequestIDReused)
		if after := snapshotDB(t, conn); after != before {
			t.Fatalf("%s: a reused request id changed the database", name)
		}
	}

	// At the plan's limit a retry still answers with the group it created.
	third := servicetest.Try(e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{RequestId: "third", Group: &visibilityv1.Group{Name: "third"}})).Must(t)
	_, err := e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{RequestId: "fourth", Group: &visibilityv1.Group{Name: "fourth"}})
	wantErr(t, err, codes.ResourceExhausted, errGroupLimit)
	retry := servicetest.Try(e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{RequestId: "third", Group: &visibilityv1.Group{Name: "third"}})).Must(t)
	if retry.GetGroup().GetId() != third.GetGroup().GetId() {
		t.Fatalf("retry at the limit = %v, want group %d", retry, third.GetGroup().GetId())
	}

	// Request ids are per company.
	other := newCo(t, e, 2, visibilityv1.Plan_PLAN_ENTERPRISE)
	o := servicetest.Try(e.client.CreateGroup(other.svc, &visibilityv1.CreateGroupRequest{RequestId: "third", Group: &visibilityv1.Group{Name: "other company"}})).Must(t)
	if o.GetGroup().GetId() == third.GetGroup().GetId() {
		t.Fatal("another company's request id returned this company's group")
	}

	// Concurrent retries create one group.
	const n = 8
	ids := make(chan int64, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			r, err := e.client.CreateGroup(other.svc, &visibilityv1.CreateGroupRequest{RequestId: "burst", Group: &visibilityv1.Group{Name: "burst"}})
			errs <- err
			ids <- r.GetGroup().GetId()
		}()
	}
	var got []int64
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		got = append(got, <-ids)
	}
	for _, id := range got {
		if id != got[0] || id == 0 {
			t.Fatalf("concurrent retries returned groups %v", got)
		}
	}
	if cnt := other.company().GetCustomGroupCount(); cnt != 2 {
		t.Fatalf("custom_group_count = %d after a burst of retries, want 2", cnt)
	}
}
