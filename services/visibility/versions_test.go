package visibility_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/visibility"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

func TestDecisionsCarryVersionAndHonourMinVersion(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	if v := c.company().GetVersion(); v != 1 {
		t.Fatalf("new company at version %d, want 1", v)
	}
	// Every write that changes something moves the version by exactly one and reports it.
	last := int64(1)
	next := func(what string, v int64) {
		t.Helper()
		if v != last+1 {
			t.Fatalf("%s: version %d, want %d", what, v, last+1)
		}
		if cv := c.company().GetVersion(); cv != v {
			t.Fatalf("%s: company version %d, response said %d", what, cv, v)
		}
		last = v
	}
	g := servicetest.Try(e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "G"}})).Must(t)
	next("CreateGroup", g.GetVersion())
	u := servicetest.Try(e.client.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 1, Active: true, Permissions: perms{change: true}.pb()}})).Must(t)
	next("UpsertUser", u.GetVersion())
	next("SetUserGroup", c.setGroup(1, g.GetGroup().GetId()).GetVersion())
	next("UpsertItem", c.item(1, &visibilityv1.Item{Type: deal, Id: 1}).GetVersion())
	next("AddItemFollowers", servicetest.Try(e.client.AddItemFollowers(c.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{1}})).Must(t).GetVersion())
	next("UpdateCompany", servicetest.Try(e.client.UpdateCompany(c.svc, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{ExtraGroups: 3},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"extra_groups"}}})).Must(t).GetVersion())
	// Writes that change nothing keep the version.
	if v := servicetest.Try(e.client.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: u.GetUser()})).Must(t).GetVersion(); v != last {
		t.Fatalf("no-op UpsertUser moved the version to %d", v)
	}
	if v := c.setGroup(1, g.GetGroup().GetId()).GetVersion(); v != last {
		t.Fatalf("no-op SetUserGroup moved the version to %d", v)
	}
	if v := c.item(1, &visibilityv1.Item{Type: deal, Id: 1}).GetVersion(); v != last {
		t.Fatalf("no-op UpsertItem moved the version to %d", v)
	}

	item := ref(deal, 1)
	decisions := []struct {
		name string
		call func(min int64) (int64, error)
	}{
		{"CheckAccess", func(min int64) (int64, error) {
			r, err := e.client.CheckAccess(c.svc, &visibilityv1.CheckAccessRequest{UserId: 1, Item: item, MinVersion: min})
			return r.GetVersion(), err
		}},
		{"BatchCheckAccess", func(min int64) (int64, error) {
			r, err := e.client.BatchCheckAccess(c.svc, &visibilityv1.BatchCheckAccessRequest{UserId: 1, Items: []*visibilityv1.ItemRef{item}, MinVersion: min})
			return r.GetVersion(), err
		}},
		{"LookupAccessFilter", func(min int64) (int64, error) {
			r, err := e.client.LookupAccessFilter(c.svc, &visibilityv1.LookupAccessFilterRequest{UserId: 1, ItemType: deal, MinVersion: min})
			return r.GetVersion(), err
		}},
		{"ListAccessibleItems", func(min int64) (int64, error) {
			r, err := e.client.ListAccessibleItems(c.svc, &visibilityv1.ListAccessibleItemsRequest{UserId: 1, ItemType: deal, MinVersion: min})
			return r.GetVersion(), err
		}},
		{"ListItemViewers", func(min int64) (int64, error) {
			r, err := e.client.ListItemViewers(c.svc, &visibilityv1.ListItemViewersRequest{Item: item, MinVersion: min})
			return r.GetVersion(), err
		}},
		{"ExplainAccess", func(min int64) (int64, error) {
			r, err := e.client.ExplainAccess(c.svc, &visibilityv1.ExplainAccessRequest{UserId: 1, Item: item, MinVersion: min})
			return r.GetVersion(), err
		}},
	}
	for _, d := range decisions {
		t.Run(d.name, func(t *testing.T) {
			for _, min := range []int64{0, 1, last} {
				if v := servicetest.Try(d.call(min)).Must(t); v != last {
					t.Fatalf("min_version %d: decided at version %d, want %d", min, v, last)
				}
			}
			for _, min := range []int64{last + 1, last + 1000} {
				_, err := d.call(min)
				wantErr(t, err, codes.FailedPrecondition, errVersionNotReached)
			}
			_, err := d.call(-1)
			wantErr(t, err, codes.InvalidArgument, reasonInvalidArgument, "min_version")
		})
	}
	// ListPipelines and ListGroups report the version too.
	if v := servicetest.Try(e.client.ListGroups(c.svc, &visibilityv1.ListGroupsRequest{})).Must(t).GetVersion(); v != last {
		t.Fatalf("ListGroups version %d, want %d", v, last)
	}
	if v := servicetest.Try(e.client.ListPipelines(c.svc, &visibilityv1.ListPipelinesRequest{})).Must(t).GetVersion(); v != last {
		t.Fatalf("ListPipelines version %d, want %d", v, last)
	}
}

// TestTwoInstancesReadTheirWritesByVersion runs two replicas on one database:
// a write through one is seen by the other when the decision names the
// write's version, every time, and without a version once NOTIFY arrives.
func TestTwoInstancesReadTheirWritesByVersion(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: e.dbURL, AuthKeys: e.AuthKeys})
	bc := visibilityv1.NewVisibilityServiceClient(b.Conn)
	a := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	x := a.group("X", 0, nil)
	y := a.group("Y", 0, nil)
	top := a.group("top", 0, nil)
	a.pipeline(1)
	a.pipeline(2)
	a.user(1, x, perms{change: true}) // the owner
	a.user(2, x, perms{})
	a.user(3, y, perms{})
	a.user(4, top, perms{})
	a.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtGroup, PipelineId: 1})
	svcB := b.Service(t, 1) // a token minted by B, valid on A too (same keys)

	checkB := func(user int64, min int64) *visibilityv1.CheckAccessResponse {
		t.Helper()
		return servicetest.Try(bc.CheckAccess(svcB, &visibilityv1.CheckAccessRequest{UserId: user, Item: ref(deal, 1), MinVersion: min})).Must(t)
	}
	checkB(1, 0) // B loads the company

	// The writes cycle through kinds that change decisions in different ways.
	// Each returns the version it produced and the decision it implies.
	type expect struct {
		user    int64
		allowed bool
	}
	writes := []struct {
		name  string
		write func() (int64, []expect)
	}{
		{"move owner to Y", func() (int64, []expect) {
			return a.setGroup(1, y).GetVersion(), []expect{{2, false}, {3, true}}
		}},
		{"move owner back to X", func() (int64, []expect) {
			return a.setGroup(1, x).GetVersion(), []expect{{2, true}, {3, false}}
		}},
		{"follow", func() (int64, []expect) {
			return servicetest.Try(a.c.AddItemFollowers(a.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{3}})).Must(t).GetVersion(),
				[]expect{{3, true}}
		}},
		{"unfollow", func() (int64, []expect) {
			return servicetest.Try(a.c.RemoveItemFollowers(a.svc, &visibilityv1.RemoveItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{3}})).Must(t).GetVersion(),
				[]expect{{3, false}}
		}},
		{"visible to owner only", func() (int64, []expect) {
			return a.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtOwner, PipelineId: 1}).GetVersion(), []expect{{2, false}, {3, false}}
		}},
		{"visible to company", func() (int64, []expect) {
			return a.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtCompany, PipelineId: 1}).GetVersion(), []expect{{2, true}, {3, true}}
		}},
		{"hide pipeline for Y", func() (int64, []expect) {
			return a.hide(y, 1).GetVersion(), []expect{{3, false}, {2, true}}
		}},
		{"show pipeline for Y and visible to group", func() (int64, []expect) {
			servicetest.Try(a.c.UpdateGroupPipelines(a.svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: y,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{1}}})).Must(t)
			return a.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtGroup, PipelineId: 1}).GetVersion(), []expect{{3, false}, {2, true}}
		}},
		{"move X under top", func() (int64, []expect) { return a.moveGroup(x, top), []expect{{4, true}} }},
		{"move X to top level", func() (int64, []expect) { return a.moveGroup(x, 0), []expect{{4, false}} }},
	}
	const rounds = 50
	for i := range rounds {
		w := writes[i%len(writes)]
		v, want := w.write()
		for _, x := range want {
			r := checkB(x.user, v)
			if r.GetAllowed() != x.allowed || r.GetVersion() < v {
				t.Fatalf("round %d (%s): B says user %d allowed=%v at version %d (%v); want allowed=%v at version >= %d",
					i, w.name, x.user, r.GetAllowed(), r.GetVersion(), r.GetReason(), x.allowed, v)
			}
		}
	}

	// The other way round, with a token minted by A: write through B, read through A by version.
	for i := range 10 {
		g := []int64{y, x}[i%2]
		v := servicetest.Try(bc.SetUserGroup(svcB, &visibilityv1.SetUserGroupRequest{UserId: 1, GroupId: g})).Must(t).GetVersion()
		r := a.check(3, deal, 1, v)
		if r.GetAllowed() != (g == y) {
			t.Fatalf("write through B %d: A says %v at version %d, want allowed=%v", i, r, v, g == y)
		}
	}

	// Without min_version B catches up on its own through NOTIFY (liveness bound, not a speed test).
	for i, g := range []int64{y, x, y} {
		v := a.setGroup(1, g).GetVersion()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := checkB(3, 0)
			if r.GetVersion() >= v {
				if r.GetAllowed() != (g == y) {
					t.Fatalf("notify %d: B at version %d says %v, want allowed=%v", i, r.GetVersion(), r, g == y)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("notify %d: B still at version %d after 10s, want %d", i, r.GetVersion(), v)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestConcurrentWritersAndReadersAcrossInstances interleaves writes through
// two replicas with reads naming the writes' versions, concurrently.
func TestConcurrentWritersAndReadersAcrossInstances(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: e.dbURL, AuthKeys: e.AuthKeys})
	bc := visibilityv1.NewVisibilityServiceClient(b.Conn)
	a := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	a.user(1, 0, perms{change: true})
	const workers, perWorker = 4, 10
	for w := range workers {
		a.user(int64(100+w), 0, perms{})
		a.item(1, &visibilityv1.Item{Type: person, Id: int64(w + 1), VisibleTo: vtOwner})
	}
	clients := []visibilityv1.VisibilityServiceClient{e.client, bc}
	ctxs := []context.Context{a.svc, b.Service(t, 1)}
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			errs <- func() error {
				wc, rc := w%2, (w+1)%2 // write through one replica, read through the other
				follower := int64(100 + w)
				item := ref(person, int64(w+1))
				for i := range perWorker {
					var v int64
					if i%2 == 0 {
						r, err := clients[wc].AddItemFollowers(ctxs[wc], &visibilityv1.AddItemFollowersRequest{Item: item, UserIds: []int64{follower}})
						if err != nil {
							return err
						}
						v = r.GetVersion()
					} else {
						r, err := clients[wc].RemoveItemFollowers(ctxs[wc], &visibilityv1.RemoveItemFollowersRequest{Item: item, UserIds: []int64{follower}})
						if err != nil {
							return err
						}
						v = r.GetVersion()
					}
					r, err := clients[rc].CheckAccess(ctxs[rc], &visibilityv1.CheckAccessRequest{UserId: follower, Item: item, MinVersion: v})
					if err != nil {
						return err
					}
					if r.GetAllowed() != (i%2 == 0) || r.GetVersion() < v {
						return fmt.Errorf("worker %d step %d: %v after write at version %d", w, i, r, v)
					}
				}
				return nil
			}()
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Both replicas end at the same version with the same answers.
	want := a.company().GetVersion()
	for i, cl := range clients {
		r := servicetest.Try(cl.BatchCheckAccess(ctxs[i], &visibilityv1.BatchCheckAccessRequest{UserId: 100, MinVersion: want,
			Items: []*visibilityv1.ItemRef{ref(person, 1), ref(person, 2)}})).Must(t)
		if r.GetVersion() != want {
			t.Fatalf("replica %d at version %d, want %d", i, r.GetVersion(), want)
		}
		if !proto.Equal(r.GetResults()[0], &visibilityv1.AccessResult{Item: ref(person, 1), Reason: rNotVisible}) {
			t.Fatalf("replica %d: %v", i, r.GetResults())
		}
	}
}
