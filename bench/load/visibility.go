package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// VisibilitySet is the data set of the visibility issue, scaled: per unit of
// Scale, 1,000 users, 21 groups in 3 levels (1 + 4 + 16), 4 pipelines with one
// hidden from 2 groups and 20,000 deals with mixed visible_to and followers.
type VisibilitySet struct {
	Company int64
	Scale   int
	Users   int
	Groups  int // custom groups (the default group comes on top)
	Deals   int
	Version int64
	Calls   int // write RPCs the seeding made
	// Phases is how long each step of the seeding took, in seconds.
	Phases []Phase
}

// Phase is one timed step of a seeding.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Calls   int     `json:"api_calls"`
}

// seedWorkers is how many seeding calls are in flight at once. Writes of one
// company serialize in PostgreSQL (they lock the company's row), so this
// mostly hides round trips.
const seedWorkers = 8

// SeedVisibility creates the data set in a fresh company through the API:
// groups one by one (a child needs its parent's id), users, their groups
// and followers with seedWorkers calls in flight, deals in BatchUpsertItems
// of 1,000. svc must call as a service principal of company.
func SeedVisibility(ctx context.Context, conn *grpc.ClientConn, svc func(context.Context) context.Context, company int64, scale int) (*VisibilitySet, error) {
	c := visibilityv1.NewVisibilityServiceClient(conn)
	ctx = svc(ctx)
	set := &VisibilitySet{Company: company, Scale: scale, Users: 1000 * scale, Deals: 20000 * scale}
	var calls atomic.Int64
	t0, c0 := time.Now(), int64(0)
	phase := func(name string) {
		n := calls.Load()
		set.Phases = append(set.Phases, Phase{Name: name, Seconds: time.Since(t0).Seconds(), Calls: int(n - c0)})
		t0, c0 = time.Now(), n
	}
	r := rand.New(rand.NewPCG(uint64(company), 42))
	if _, err := c.CreateCompany(ctx, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}); err != nil {
		return nil, fmt.Errorf("create company: %w", err)
	}
	calls.Add(1)
	// Groups: per scale unit one root, 4 children, 16 grandchildren.
	var groups []int64
	create := func(name string, parent int64) (int64, error) {
		calls.Add(1)
		resp, err := c.CreateGroup(ctx, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: name, ParentId: parent}})
		if err != nil {
			return 0, fmt.Errorf("create group: %w", err)
		}
		groups = append(groups, resp.Group.Id)
		return resp.Group.Id, nil
	}
	for s := range scale {
		root, err := create(fmt.Sprintf("Sales %d", s), 0)
		if err != nil {
			return nil, err
		}
		for i := range 4 {
			child, err := create(fmt.Sprintf("Region %d.%d", s, i), root)
			if err != nil {
				return nil, err
			}
			for j := range 4 {
				if _, err := create(fmt.Sprintf("Team %d.%d.%d", s, i, j), child); err != nil {
					return nil, err
				}
			}
		}
	}
	set.Groups = len(groups)
	phase("company and groups")
	for p := int64(1); p <= 4; p++ {
		calls.Add(1)
		if _, err := c.UpsertPipeline(ctx, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: p, Name: fmt.Sprintf("Pipeline %d", p)}}); err != nil {
			return nil, err
		}
	}
	for _, g := range groups[len(groups)-2:] {
		calls.Add(1)
		if _, err := c.UpdateGroupPipelines(ctx, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g,
			VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{4}}}); err != nil {
			return nil, err
		}
	}
	phase("pipelines")
	// Users, each in a random group but 4% (who stay in the default group);
	// the draws are made up front so that the data set does not depend on
	// the order the workers run in.
	userGroup := make([]int64, set.Users+1)
	for u := 1; u <= set.Users; u++ {
		if u%25 != 0 {
			userGroup[u] = groups[r.IntN(len(groups))]
		}
	}
	if err := parallel(ctx, seedWorkers, set.Users, func(ctx context.Context, i int) error {
		u := int64(i + 1)
		perms := &visibilityv1.Permissions{ChangeVisibility: u == 1, AccountSettings: u == 1}
		switch {
		case u%200 == 2:
			perms.DealAdmin = true
		case u%200 == 3:
			perms.GlobalAdmin = true
		}
		calls.Add(1)
		if _, err := c.UpsertUser(ctx, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u, Name: fmt.Sprintf("user %d", u), Active: true, Permissions: perms}}); err != nil {
			return fmt.Errorf("upsert user: %w", err)
		}
		if userGroup[u] == 0 {
			return nil
		}
		calls.Add(1)
		if _, err := c.SetUserGroup(ctx, &visibilityv1.SetUserGroupRequest{UserId: u, GroupId: userGroup[u]}); err != nil {
			return fmt.Errorf("set user group: %w", err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	phase("users and their groups")
	vts := []visibilityv1.VisibleTo{visibilityv1.VisibleTo_VISIBLE_TO_OWNER, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP,
		visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS, visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY}
	const batch = 1000
	batches := make([]*visibilityv1.BatchUpsertItemsRequest, 0, (set.Deals+batch-1)/batch)
	for start := 1; start <= set.Deals; start += batch {
		req := &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 1}
		for id := start; id < start+batch && id <= set.Deals; id++ {
			req.Items = append(req.Items, &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(id),
				OwnerId: 1 + r.Int64N(int64(set.Users)), VisibleTo: vts[r.IntN(len(vts))], PipelineId: 1 + r.Int64N(4)})
		}
		batches = append(batches, req)
	}
	if err := parallel(ctx, 4, len(batches), func(ctx context.Context, i int) error {
		calls.Add(1)
		if _, err := c.BatchUpsertItems(ctx, batches[i]); err != nil {
			return fmt.Errorf("batch upsert: %w", err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	phase("deals")
	// Followers on one deal in ten.
	followers := make([][2]int64, set.Deals/10+1)
	for i := range followers {
		followers[i] = [2]int64{1 + r.Int64N(int64(set.Users)), 1 + r.Int64N(int64(set.Users))}
	}
	var version atomic.Int64
	if err := parallel(ctx, seedWorkers, set.Deals/10, func(ctx context.Context, i int) error {
		calls.Add(1)
		resp, err := c.AddItemFollowers(ctx, &visibilityv1.AddItemFollowersRequest{
			Item:    &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(10 * (i + 1))},
			UserIds: followers[i][:]})
		if err != nil {
			return fmt.Errorf("add followers: %w", err)
		}
		for v := version.Load(); resp.Version > v && !version.CompareAndSwap(v, resp.Version); v = version.Load() {
		}
		return nil
	}); err != nil {
		return nil, err
	}
	phase("followers")
	set.Version = version.Load()
	set.Calls = int(calls.Load())
	return set, nil
}

// VisibilityScenarios runs the visibility scenarios against set, each runs
// times; user calls as a user principal (CheckAccess etc. about itself, as a
// mailbox forwarding its user's token does).
func VisibilityScenarios(ctx context.Context, conn *grpc.ClientConn, set *VisibilitySet, user func(ctx context.Context, userID int64) context.Context,
	d time.Duration, runs int, concurrencies []int) []Result {
	c := visibilityv1.NewVisibilityServiceClient(conn)
	// One authenticated context per simulated user, made before the run.
	users := make([]context.Context, 256)
	for i := range users {
		users[i] = user(ctx, int64(1+i*set.Users/len(users)))
	}
	deal := func(w, i int) *visibilityv1.ItemRef {
		return &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(1 + (w*7919+i*104729)%set.Deals)}
	}
	var out []Result
	group := fmt.Sprintf("visibility x%d", set.Scale)
	empty := emptyCalls(ctx, conn, group, d)
	for _, n := range concurrencies {
		e, check := Paired(runs, empty(n), func() Result {
			return Run(ctx, group, "CheckAccess", n, 1, d, func(ctx context.Context, w, i int) error {
				_, err := c.CheckAccess(users[(w+i)%len(users)], &visibilityv1.CheckAccessRequest{Item: deal(w, i)})
				return err
			})
		})
		out = append(out, e, check)
	}
	batch := make([]*visibilityv1.ItemRef, 1000)
	for i := range batch {
		batch[i] = deal(0, i)
	}
	out = append(out, Repeat(runs, func() Result {
		return Run(ctx, group, "BatchCheckAccess (1,000 items)", 2, 1000, d, func(ctx context.Context, w, i int) error {
			_, err := c.BatchCheckAccess(users[(w+i)%len(users)], &visibilityv1.BatchCheckAccessRequest{Items: batch})
			return err
		})
	}))
	// Latency targets are read at concurrency 1; 8 shows them under load.
	for _, n := range []int{1, 8} {
		out = append(out, Repeat(runs, func() Result {
			return Run(ctx, group, "LookupAccessFilter", n, 1, d, func(ctx context.Context, w, i int) error {
				_, err := c.LookupAccessFilter(users[(w+i)%len(users)], &visibilityv1.LookupAccessFilterRequest{ItemType: visibilityv1.ItemType_ITEM_TYPE_DEAL})
				return err
			})
		}))
		out = append(out, Repeat(runs, func() Result {
			return Run(ctx, group, "ListAccessibleItems first page (100)", n, 1, d, func(ctx context.Context, w, i int) error {
				_, err := c.ListAccessibleItems(users[(w+i)%len(users)], &visibilityv1.ListAccessibleItemsRequest{ItemType: visibilityv1.ItemType_ITEM_TYPE_DEAL, PageSize: 100})
				return err
			})
		}))
	}
	return out
}

// EmptyCall is the name of the ceiling scenario: grpc.health.v1.Health/Check
// on the same server and connection.
const EmptyCall = "empty call (health Check)"

// emptyCalls returns, for a concurrency n, the EmptyCall scenario of group
// on conn at n for d: the ceiling that Paired measures beside a scenario.
func emptyCalls(ctx context.Context, conn *grpc.ClientConn, group string, d time.Duration) func(n int) func() Result {
	hc := healthpb.NewHealthClient(conn)
	return func(n int) func() Result {
		return func() Result {
			return Run(ctx, group, EmptyCall, n, 1, d, func(ctx context.Context, w, i int) error {
				_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
				return err
			})
		}
	}
}
