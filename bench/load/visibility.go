package load

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	Deals   int
	Version int64
}

// SeedVisibility creates the data set in a fresh company through the API.
// svc must call as a service principal of company; it is idempotent per company.
func SeedVisibility(ctx context.Context, conn *grpc.ClientConn, svc func(context.Context) context.Context, company int64, scale int) (*VisibilitySet, error) {
	c := visibilityv1.NewVisibilityServiceClient(conn)
	ctx = svc(ctx)
	set := &VisibilitySet{Company: company, Scale: scale, Users: 1000 * scale, Deals: 20000 * scale}
	r := rand.New(rand.NewPCG(uint64(company), 42))
	if _, err := c.CreateCompany(ctx, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}); err != nil {
		return nil, fmt.Errorf("create company: %w", err)
	}
	// Groups: per scale unit one root, 4 children, 16 grandchildren.
	var groups []int64
	for range scale {
		root, err := c.CreateGroup(ctx, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "Sales"}})
		if err != nil {
			return nil, fmt.Errorf("create group: %w", err)
		}
		groups = append(groups, root.Group.Id)
		for i := range 4 {
			child, err := c.CreateGroup(ctx, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: fmt.Sprintf("Region %d", i), ParentId: root.Group.Id}})
			if err != nil {
				return nil, err
			}
			groups = append(groups, child.Group.Id)
			for j := range 4 {
				gc, err := c.CreateGroup(ctx, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: fmt.Sprintf("Team %d.%d", i, j), ParentId: child.Group.Id}})
				if err != nil {
					return nil, err
				}
				groups = append(groups, gc.Group.Id)
			}
		}
	}
	for p := int64(1); p <= 4; p++ {
		if _, err := c.UpsertPipeline(ctx, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: p, Name: fmt.Sprintf("Pipeline %d", p)}}); err != nil {
			return nil, err
		}
	}
	for _, g := range groups[len(groups)-2:] {
		if _, err := c.UpdateGroupPipelines(ctx, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g,
			VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{4}}}); err != nil {
			return nil, err
		}
	}
	for u := int64(1); u <= int64(set.Users); u++ {
		perms := &visibilityv1.Permissions{ChangeVisibility: u == 1, AccountSettings: u == 1}
		switch {
		case u%200 == 2:
			perms.DealAdmin = true
		case u%200 == 3:
			perms.GlobalAdmin = true
		}
		if _, err := c.UpsertUser(ctx, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u, Name: fmt.Sprintf("user %d", u), Active: true, Permissions: perms}}); err != nil {
			return nil, fmt.Errorf("upsert user: %w", err)
		}
		if u%25 == 0 {
			continue // 4% stay in the default group
		}
		if _, err := c.SetUserGroup(ctx, &visibilityv1.SetUserGroupRequest{UserId: u, GroupId: groups[r.IntN(len(groups))]}); err != nil {
			return nil, err
		}
	}
	vts := []visibilityv1.VisibleTo{visibilityv1.VisibleTo_VISIBLE_TO_OWNER, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP,
		visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS, visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY}
	for start := 1; start <= set.Deals; start += 1000 {
		req := &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 1}
		for id := start; id < start+1000 && id <= set.Deals; id++ {
			req.Items = append(req.Items, &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(id),
				OwnerId: 1 + r.Int64N(int64(set.Users)), VisibleTo: vts[r.IntN(len(vts))], PipelineId: 1 + r.Int64N(4)})
		}
		if _, err := c.BatchUpsertItems(ctx, req); err != nil {
			return nil, fmt.Errorf("batch upsert: %w", err)
		}
	}
	// Followers on one deal in ten.
	for id := 10; id <= set.Deals; id += 10 {
		resp, err := c.AddItemFollowers(ctx, &visibilityv1.AddItemFollowersRequest{
			Item:    &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(id)},
			UserIds: []int64{1 + r.Int64N(int64(set.Users)), 1 + r.Int64N(int64(set.Users))}})
		if err != nil {
			return nil, err
		}
		set.Version = resp.Version
	}
	return set, nil
}

// VisibilityScenarios runs the visibility scenarios against set; user calls as
// a user principal (CheckAccess etc. about itself, as a mailbox forwarding its
// user's token does).
func VisibilityScenarios(ctx context.Context, conn *grpc.ClientConn, set *VisibilitySet, user func(ctx context.Context, userID int64) context.Context,
	d time.Duration, concurrencies []int) []Result {
	c := visibilityv1.NewVisibilityServiceClient(conn)
	hc := healthpb.NewHealthClient(conn)
	// One authenticated context per simulated user, made before the run.
	users := make([]context.Context, 256)
	for i := range users {
		users[i] = user(ctx, int64(1+i*set.Users/len(users)))
	}
	deal := func(w, i int) *visibilityv1.ItemRef {
		return &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(1 + (w*7919+i*104729)%set.Deals)}
	}
	var out []Result
	name := func(s string) string { return fmt.Sprintf("visibility x%d: %s", set.Scale, s) }
	for _, n := range concurrencies {
		empty := Run(ctx, name("empty call (health Check)"), n, 1, d, func(ctx context.Context, w, i int) error {
			_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		})
		check := Run(ctx, name("CheckAccess"), n, 1, d, func(ctx context.Context, w, i int) error {
			_, err := c.CheckAccess(users[(w+i)%len(users)], &visibilityv1.CheckAccessRequest{Item: deal(w, i)})
			return err
		})
		Compare(&check, empty)
		out = append(out, empty, check)
	}
	batch := make([]*visibilityv1.ItemRef, 1000)
	for i := range batch {
		batch[i] = deal(0, i)
	}
	b := Run(ctx, name("BatchCheckAccess (1,000 items)"), 2, 1000, d, func(ctx context.Context, w, i int) error {
		_, err := c.BatchCheckAccess(users[(w+i)%len(users)], &visibilityv1.BatchCheckAccessRequest{Items: batch})
		return err
	})
	out = append(out, b)
	// Latency targets are read at concurrency 1; 8 shows them under load.
	for _, n := range []int{1, 8} {
		out = append(out, Run(ctx, name("LookupAccessFilter"), n, 1, d, func(ctx context.Context, w, i int) error {
			_, err := c.LookupAccessFilter(users[(w+i)%len(users)], &visibilityv1.LookupAccessFilterRequest{ItemType: visibilityv1.ItemType_ITEM_TYPE_DEAL})
			return err
		}))
		out = append(out, Run(ctx, name("ListAccessibleItems first page (100)"), n, 1, d, func(ctx context.Context, w, i int) error {
			_, err := c.ListAccessibleItems(users[(w+i)%len(users)], &visibilityv1.ListAccessibleItemsRequest{ItemType: visibilityv1.ItemType_ITEM_TYPE_DEAL, PageSize: 100})
			return err
		}))
	}
	return out
}
