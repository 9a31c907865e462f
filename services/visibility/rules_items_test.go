package visibility_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sightline/sightline/pkg/auth"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// Rules V5–V10: default visibility, admins, pipelines, ownership, companies, explanations.

func TestV5_ItemWithoutVisibleToTakesOwnerGroupDefault(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, &visibilityv1.DefaultVisibility{Deal: vtOwner, Person: vtSubgroups}) // others: OWNER_GROUP
	h := c.group("H", 0, &visibilityv1.DefaultVisibility{Deal: vtCompany})
	if dv := c.getGroup(g).GetDefaultVisibility(); dv.GetLead() != vtGroup || dv.GetDeal() != vtOwner || dv.GetPerson() != vtSubgroups {
		t.Fatalf("G defaults = %v", dv)
	}
	c.user(1, g, perms{})
	c.user(2, h, perms{})
	c.user(3, 0, perms{}) // default group: ENTIRE_COMPANY for every type

	tests := []struct {
		name         string
		acting       int64
		typ          visibilityv1.ItemType
		owner        int64
		want         visibilityv1.VisibleTo
		viewer       int64 // someone whose access shows the value took effect
		viewerSees   bool
		viewerReason visibilityv1.DecisionReason
	}{
		{"deal in G", 1, deal, 0, vtOwner, 3, false, rNotVisible},
		{"person in G", 1, person, 0, vtSubgroups, 3, false, rNotVisible},
		{"lead in G: unset type defaults", 1, lead, 0, vtGroup, 3, false, rNotVisible},
		{"deal in H", 2, deal, 0, vtCompany, 1, true, rCompany},
		{"default group", 3, org, 0, vtCompany, 1, true, rCompany},
		// The owner's group decides, not the acting user's.
		{"acting in G, owner in H", 1, deal, 2, vtCompany, 3, true, rCompany},
		{"acting in default, owner in G", 3, product, 1, vtGroup, 2, false, rNotVisible},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.with(t)
			id := int64(100 + i)
			r := c.item(tt.acting, &visibilityv1.Item{Type: tt.typ, Id: id, OwnerId: tt.owner})
			if r.GetItem().GetVisibleTo() != tt.want || c.getItem(tt.typ, id).GetVisibleTo() != tt.want {
				t.Fatalf("visible_to = %v, want %v", r.GetItem().GetVisibleTo(), tt.want)
			}
			c.wantAccess(tt.viewer, tt.typ, id, r.GetVersion(), tt.viewerSees, tt.viewerReason)
		})
	}

	// An existing item keeps its value when the write omits it, even after the default changes.
	itemOf := func(r *visibilityv1.UpsertItemResponse) *visibilityv1.Item { return r.GetItem() }
	c.item(1, &visibilityv1.Item{Type: deal, Id: 1})
	servicetest.Try(e.client.UpdateGroup(c.svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: g,
		DefaultVisibility: &visibilityv1.DefaultVisibility{Deal: vtCompany}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"default_visibility"}}})).Must(t)
	if got := itemOf(c.item(1, &visibilityv1.Item{Type: deal, Id: 1})).GetVisibleTo(); got != vtOwner {
		t.Fatalf("re-upsert without visible_to changed it to %v", got)
	}
	// New items take the new default.
	if got := itemOf(c.item(1, &visibilityv1.Item{Type: deal, Id: 2})).GetVisibleTo(); got != vtCompany {
		t.Fatalf("new item after default change: %v, want ENTIRE_COMPANY", got)
	}
}

func TestV5_NonDefaultVisibleToNeedsChangeVisibilityPermission(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)           // default OWNER_GROUP
	c.user(1, g, perms{})               // may not change visibility
	c.user(2, g, perms{change: true})   // may
	c.user(3, g, perms{app: true})      // an app admin may too
	c.user(4, g, perms{settings: true}) // account settings alone is not enough
	c.user(5, g, perms{deal: true, global: true})

	// Refused: nothing is registered or changed.
	for _, u := range []int64{1, 4, 5} {
		for _, vt := range []visibilityv1.VisibleTo{vtOwner, vtSubgroups, vtCompany} {
			before := snapshotDB(t, conn)
			_, err := e.client.UpsertItem(c.as(u), &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: lead, Id: 1, VisibleTo: vt}})
			wantErr(t, err, codes.PermissionDenied, errChangeVisibility)
			if after := snapshotDB(t, conn); after != before {
				t.Fatalf("user %d visible_to %v: the refused write changed the database", u, vt)
			}
		}
	}
	// The group default, given explicitly, needs no permission.
	r := servicetest.Try(e.client.UpsertItem(c.as(1), &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: lead, Id: 1, VisibleTo: vtGroup}})).Must(t)
	if r.GetItem().GetVisibleTo() != vtGroup || r.GetItem().GetOwnerId() != 1 {
		t.Fatalf("UpsertItem = %v", r.GetItem())
	}
	// Changing an existing item away from the default is refused too, and leaves it as it was.
	_, err := e.client.UpsertItem(c.as(1), &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: lead, Id: 1, VisibleTo: vtCompany}})
	wantErr(t, err, codes.PermissionDenied, errChangeVisibility)
	if got := c.getItem(lead, 1).GetVisibleTo(); got != vtGroup {
		t.Fatalf("visible_to = %v after refused change", got)
	}
	// With the permission (or as an app admin) any value goes.
	for _, u := range []int64{2, 3} {
		for i, vt := range []visibilityv1.VisibleTo{vtOwner, vtSubgroups, vtCompany} {
			id := int64(10*u + int64(i))
			r := servicetest.Try(e.client.UpsertItem(c.as(u), &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: lead, Id: id, VisibleTo: vt}})).Must(t)
			if r.GetItem().GetVisibleTo() != vt {
				t.Fatalf("user %d: visible_to = %v, want %v", u, r.GetItem().GetVisibleTo(), vt)
			}
		}
	}
	// Re-sending an existing non-default value unchanged is not a change.
	servicetest.Try(e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: 2, Item: &visibilityv1.Item{Type: lead, Id: 7, OwnerId: 1, VisibleTo: vtCompany}})).Must(t)
	servicetest.Try(e.client.UpsertItem(c.as(1), &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: lead, Id: 7, VisibleTo: vtCompany}})).Must(t)
}

func TestV5_ServiceIsHeldToActingUsersPermission(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)
	c.user(1, g, perms{})
	c.user(2, g, perms{change: true})

	before := snapshotDB(t, conn)
	_, err := e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: 1, Item: &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtCompany}})
	wantErr(t, err, codes.PermissionDenied, errChangeVisibility)
	// The acting user is held to the rule even when the item is someone else's.
	_, err = e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: 1, Item: &visibilityv1.Item{Type: deal, Id: 1, OwnerId: 2, VisibleTo: vtCompany}})
	wantErr(t, err, codes.PermissionDenied, errChangeVisibility)
	// One non-default item refuses the whole batch.
	_, err = e.client.BatchUpsertItems(c.svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 1, Items: []*visibilityv1.Item{
		{Type: deal, Id: 1}, {Type: deal, Id: 2, VisibleTo: vtGroup}, {Type: deal, Id: 3, VisibleTo: vtOwner}}})
	wantErr(t, err, codes.PermissionDenied, errChangeVisibility)
	if after := snapshotDB(t, conn); after != before {
		t.Fatalf("refused writes changed the database")
	}

	r := servicetest.Try(e.client.BatchUpsertItems(c.svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 2, Items: []*visibilityv1.Item{
		{Type: deal, Id: 1}, {Type: deal, Id: 2, VisibleTo: vtGroup}, {Type: deal, Id: 3, VisibleTo: vtOwner, OwnerId: 1}}})).Must(t)
	if r.GetCreatedCount() != 3 || r.GetItems()[2].GetVisibleTo() != vtOwner || r.GetItems()[2].GetOwnerId() != 1 {
		t.Fatalf("BatchUpsertItems = %v", r)
	}
}

func TestV5_ServiceMustNameActingUser(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	c.user(1, 0, perms{change: true})
	c.user(2, 0, perms{})
	before := snapshotDB(t, conn)
	_, err := e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: deal, Id: 1, OwnerId: 1}})
	wantErr(t, err, codes.InvalidArgument, errActingUser, "acting_user_id")
	_, err = e.client.BatchUpsertItems(c.svc, &visibilityv1.BatchUpsertItemsRequest{Items: []*visibilityv1.Item{{Type: deal, Id: 1, OwnerId: 1}}})
	wantErr(t, err, codes.InvalidArgument, errActingUser, "acting_user_id")
	_, err = e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: 99, Item: &visibilityv1.Item{Type: deal, Id: 1, OwnerId: 1}})
	wantErr(t, err, codes.NotFound, errUserNotFound)
	// A user principal cannot act for someone else.
	_, err = e.client.UpsertItem(c.as(2), &visibilityv1.UpsertItemRequest{ActingUserId: 1, Item: &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtOwner}})
	wantErr(t, err, codes.PermissionDenied, errSubjectNotCaller)
	if after := snapshotDB(t, conn); after != before {
		t.Fatalf("refused writes changed the database:\nbefore\n%s\nafter\n%s", before, after)
	}
	if _, err := e.client.GetItem(c.svc, &visibilityv1.GetItemRequest{Item: ref(deal, 1)}); err == nil {
		t.Fatal("a refused write registered the item")
	}
}

// managementCalls is every management RPC with valid arguments for the fixture of TestV6_OnlyAccountSettingsMayManage.
func managementCalls(cl visibilityv1.VisibilityServiceClient, g, emptyG, item int64) []struct {
	name string
	call func(ctx context.Context) error
} {
	err := func(_ any, err error) error { return err }
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	return []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"UpdateCompany", func(ctx context.Context) error {
			return err(cl.UpdateCompany(ctx, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{ExtraGroups: 1}, UpdateMask: mask("extra_groups")}))
		}},
		{"UpsertUser", func(ctx context.Context) error {
			return err(cl.UpsertUser(ctx, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 40, Active: true}}))
		}},
		{"GetUser", func(ctx context.Context) error { return err(cl.GetUser(ctx, &visibilityv1.GetUserRequest{UserId: 30})) }},
		{"ListUsers", func(ctx context.Context) error { return err(cl.ListUsers(ctx, &visibilityv1.ListUsersRequest{})) }},
		{"CreateGroup", func(ctx context.Context) error {
			return err(cl.CreateGroup(ctx, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "new"}}))
		}},
		{"GetGroup", func(ctx context.Context) error {
			return err(cl.GetGroup(ctx, &visibilityv1.GetGroupRequest{GroupId: g}))
		}},
		{"ListGroups", func(ctx context.Context) error { return err(cl.ListGroups(ctx, &visibilityv1.ListGroupsRequest{})) }},
		{"UpdateGroup", func(ctx context.Context) error {
			return err(cl.UpdateGroup(ctx, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: g, Name: "renamed"}, UpdateMask: mask("name")}))
		}},
		{"SetUserGroup", func(ctx context.Context) error {
			return err(cl.SetUserGroup(ctx, &visibilityv1.SetUserGroupRequest{UserId: 30, GroupId: g}))
		}},
		{"RemoveUserFromGroup", func(ctx context.Context) error {
			return err(cl.RemoveUserFromGroup(ctx, &visibilityv1.RemoveUserFromGroupRequest{UserId: 30}))
		}},
		{"DeleteGroup", func(ctx context.Context) error {
			return err(cl.DeleteGroup(ctx, &visibilityv1.DeleteGroupRequest{GroupId: emptyG}))
		}},
		{"UpsertPipeline", func(ctx context.Context) error {
			return err(cl.UpsertPipeline(ctx, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: 5, Name: "new"}}))
		}},
		{"UpdateGroupPipelines", func(ctx context.Context) error {
			return err(cl.UpdateGroupPipelines(ctx, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{1}}}))
		}},
		{"ListPipelines (all)", func(ctx context.Context) error {
			return err(cl.ListPipelines(ctx, &visibilityv1.ListPipelinesRequest{}))
		}},
		{"DeletePipeline", func(ctx context.Context) error {
			return err(cl.DeletePipeline(ctx, &visibilityv1.DeletePipelineRequest{PipelineId: 2}))
		}},
		{"ListItemViewers", func(ctx context.Context) error {
			return err(cl.ListItemViewers(ctx, &visibilityv1.ListItemViewersRequest{Item: ref(deal, item)}))
		}},
		{"DeactivateUser", func(ctx context.Context) error {
			return err(cl.DeactivateUser(ctx, &visibilityv1.DeactivateUserRequest{UserId: 30}))
		}},
	}
}

func TestV6_OnlyAccountSettingsMayManage(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)
	emptyG := c.group("empty", 0, nil)
	c.pipeline(1)
	c.pipeline(2)
	c.user(30, 0, perms{change: true})
	c.item(30, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtCompany})
	denied := map[string]perms{
		"plain":            {},
		"deal admin":       {deal: true},
		"global admin":     {global: true},
		"change vis":       {change: true},
		"all but settings": {deal: true, global: true, change: true},
	}
	var ids []int64
	for i := range len(denied) {
		ids = append(ids, int64(10+i))
	}
	i := 0
	names := make([]string, 0, len(denied))
	for name := range denied {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c.user(ids[i], g, denied[name])
		i++
	}
	c.user(20, g, perms{settings: true})
	servicetest.Try(e.client.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 21, Active: false,
		Permissions: perms{settings: true}.pb()}})).Must(t) // deactivated: no longer manages

	calls := managementCalls(e.client, g, emptyG, 1)
	before := snapshotDB(t, conn)
	for _, call := range calls {
		t.Run(call.name, func(t *testing.T) {
			for i, name := range names {
				err := call.call(c.as(ids[i]))
				if err == nil {
					t.Fatalf("%s: allowed", name)
				}
				wantErr(t, err, codes.PermissionDenied, errAccountSettings)
			}
			wantErr(t, call.call(c.as(21)), codes.PermissionDenied, errAccountSettings)
			// An unknown user of the company is refused the same way.
			wantErr(t, call.call(c.as(999)), codes.PermissionDenied, errAccountSettings)
		})
	}
	if after := snapshotDB(t, conn); after != before {
		t.Fatalf("refused management calls changed the database:\nbefore\n%s\nafter\n%s", before, after)
	}
	// CreateCompany is for service principals only, whatever the user's rights.
	_, err := e.client.CreateCompany(c.as(20), &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE})
	wantErr(t, err, codes.PermissionDenied, errServiceRequired)
	// A user may read itself without account settings.
	servicetest.Try(e.client.GetUser(c.as(10), &visibilityv1.GetUserRequest{UserId: 10})).Must(t)

	// The user with account settings access may do all of it.
	for _, call := range calls {
		if err := call.call(c.as(20)); err != nil {
			t.Errorf("%s as account settings user: %v", call.name, err)
		}
	}
	// So may an app admin (account admin: doc of package server).
	c.user(22, 0, perms{app: true})
	servicetest.Try(e.client.ListGroups(c.as(22), &visibilityv1.ListGroupsRequest{})).Must(t)
}

func TestV6_AdminKindsDoNotImplyEachOther(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	x := c.group("X", 0, nil)
	y := c.group("Y", 0, nil)
	c.pipeline(1)
	c.pipeline(2)
	c.hide(y, 2)
	c.user(1, x, perms{change: true}) // owner of everything, visible_to OWNER
	viewers := map[string]struct {
		id int64
		p  perms
	}{
		"plain":       {2, perms{}},
		"deal":        {3, perms{deal: true}},
		"global":      {4, perms{global: true}},
		"app":         {5, perms{app: true}},
		"settings":    {6, perms{settings: true}},
		"change":      {7, perms{change: true}},
		"deal+global": {8, perms{deal: true, global: true}},
	}
	for _, v := range viewers {
		c.user(v.id, y, v.p)
	}
	types := []visibilityv1.ItemType{deal, lead, person, org, product}
	for i, typ := range types {
		c.item(1, &visibilityv1.Item{Type: typ, Id: int64(i + 1), VisibleTo: vtOwner})
	}
	c.item(1, &visibilityv1.Item{Type: deal, Id: 9, VisibleTo: vtCompany, PipelineId: 2}) // hidden for Y

	type want struct {
		allowed bool
		reason  visibilityv1.DecisionReason
	}
	no, hidden := want{false, rNotVisible}, want{false, rHidden}
	dealAdmin, globalAdmin, appAdmin := want{true, rDealAdmin}, want{true, rGlobalAdmin}, want{true, rAppAdmin}
	tests := []struct {
		viewer string
		want   [6]want // deal, lead, person, org, product, hidden-pipeline deal
	}{
		{"plain", [6]want{no, no, no, no, no, hidden}},
		{"deal", [6]want{dealAdmin, dealAdmin, no, no, no, dealAdmin}},
		{"global", [6]want{no, no, globalAdmin, globalAdmin, globalAdmin, hidden}},
		{"app", [6]want{appAdmin, appAdmin, appAdmin, appAdmin, appAdmin, appAdmin}},
		{"settings", [6]want{no, no, no, no, no, hidden}},
		{"change", [6]want{no, no, no, no, no, hidden}},
		{"deal+global", [6]want{dealAdmin, dealAdmin, globalAdmin, globalAdmin, globalAdmin, dealAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.viewer, func(t *testing.T) {
			c := c.with(t)
			u := viewers[tt.viewer].id
			refs := []*visibilityv1.ItemRef{ref(deal, 1), ref(lead, 2), ref(person, 3), ref(org, 4), ref(product, 5), ref(deal, 9)}
			for i, r := range refs {
				c.wantAccess(u, r.GetType(), r.GetId(), 0, tt.want[i].allowed, tt.want[i].reason)
			}
			// The filter agrees: sees_all exactly for the types the admin kind covers.
			for i, typ := range types {
				f := servicetest.Try(e.client.LookupAccessFilter(c.svc, &visibilityv1.LookupAccessFilterRequest{UserId: u, ItemType: typ})).Must(t)
				isAdmin := tt.want[i].reason == rDealAdmin || tt.want[i].reason == rGlobalAdmin || tt.want[i].reason == rAppAdmin
				if f.GetSeesAll() != isAdmin {
					t.Errorf("%v filter sees_all = %v, want %v", typ, f.GetSeesAll(), isAdmin)
				}
			}
		})
	}
}

func TestV7_HiddenPipelineHidesDealFromOwnerAndReadsAsNotFound(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)
	sub := c.group("G sub", g, nil)
	other := c.group("Other", 0, nil)
	c.pipeline(1)
	c.pipeline(2)
	c.user(1, g, perms{change: true}) // owner
	c.user(2, g, perms{})             // follower
	c.user(3, other, perms{})
	c.user(4, sub, perms{})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 10, VisibleTo: vtCompany, PipelineId: 2})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 11, VisibleTo: vtCompany, PipelineId: 1})
	servicetest.Try(e.client.AddItemFollowers(c.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 10), UserIds: []int64{2}})).Must(t)
	c.wantAccess(1, deal, 10, 0, true, rOwner)
	v := c.hide(g, 2).GetVersion()

	// To the service: PIPELINE_HIDDEN, for the owner and the follower alike.
	c.wantAccess(1, deal, 10, v, false, rHidden)
	c.wantAccess(2, deal, 10, v, false, rHidden)
	c.wantAccess(1, deal, 11, v, true, rOwner)
	// Other groups are not affected, nor are subgroups (hiding is per group).
	c.wantAccess(3, deal, 10, v, true, rCompany)
	c.wantAccess(4, deal, 10, v, true, rSubgroup)

	// To the owner as a user: exactly like a deal that does not exist.
	owner := c.as(1)
	const missing = 12345
	for _, id := range []int64{10, missing} {
		r := servicetest.Try(e.client.CheckAccess(owner, &visibilityv1.CheckAccessRequest{Item: ref(deal, id)})).Must(t)
		if r.GetAllowed() || r.GetReason() != rNoItem {
			t.Fatalf("CheckAccess(deal %d) = %v, want ITEM_NOT_FOUND", id, r)
		}
		b := servicetest.Try(e.client.BatchCheckAccess(owner, &visibilityv1.BatchCheckAccessRequest{Items: []*visibilityv1.ItemRef{ref(deal, id)}})).Must(t)
		if b.GetResults()[0].GetAllowed() || b.GetResults()[0].GetReason() != rNoItem {
			t.Fatalf("BatchCheckAccess(deal %d) = %v, want ITEM_NOT_FOUND", id, b)
		}
	}
	explain := func(id int64) string {
		r, err := e.client.ExplainAccess(owner, &visibilityv1.ExplainAccessRequest{Item: ref(deal, id)})
		return normalize(r, err, id)
	}
	if a, b := explain(10), explain(missing); a != b || strings.Contains(a, "pipeline") {
		t.Fatalf("ExplainAccess differs for a hidden deal and a missing one, or mentions the pipeline:\n%s\n%s", a, b)
	}
	// Reads of the item itself are NOT_FOUND with the message of a missing item.
	for name, call := range map[string]func(id int64) (proto.Message, error){
		"GetItem": func(id int64) (proto.Message, error) {
			return e.client.GetItem(owner, &visibilityv1.GetItemRequest{Item: ref(deal, id)})
		},
		"ListItemFollowers": func(id int64) (proto.Message, error) {
			return e.client.ListItemFollowers(owner, &visibilityv1.ListItemFollowersRequest{Item: ref(deal, id)})
		},
		"ChangeItemOwner": func(id int64) (proto.Message, error) {
			return e.client.ChangeItemOwner(owner, &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, id), OwnerId: 2})
		},
		"DeleteItem": func(id int64) (proto.Message, error) {
			return e.client.DeleteItem(owner, &visibilityv1.DeleteItemRequest{Item: ref(deal, id)})
		},
	} {
		resp, err := call(10)
		wantErr(t, err, codes.NotFound, errItemNotFound)
		resp2, err2 := call(missing)
		if a, b := normalize(resp, err, 10), normalize(resp2, err2, missing); a != b {
			t.Fatalf("%s: hidden deal %s, missing deal %s", name, a, b)
		}
	}
	if got := c.getItem(deal, 10).GetOwnerId(); got != 1 {
		t.Fatalf("owner changed to %d", got)
	}
	// A hidden pipeline itself reads as one that does not exist: registering a deal in it.
	before := snapshotDB(t, connect(t, e.dbURL))
	upsert := func(pipeline int64) string {
		r, err := e.client.UpsertItem(owner, &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: deal, Id: 20, PipelineId: pipeline}})
		wantErr(t, err, codes.NotFound, errPipelineNotFound)
		return normalize(r, err, pipeline)
	}
	if a, b := upsert(2), upsert(missing); a != b {
		t.Fatalf("a hidden pipeline and a missing one read differently:\n%s\n%s", a, b)
	}
	if after := snapshotDB(t, connect(t, e.dbURL)); after != before {
		t.Fatal("a refused UpsertItem changed the database")
	}
	// Lists leave it out.
	l := servicetest.Try(e.client.ListAccessibleItems(owner, &visibilityv1.ListAccessibleItemsRequest{ItemType: deal})).Must(t)
	if len(l.GetItems()) != 1 || l.GetItems()[0].GetId() != 11 {
		t.Fatalf("ListAccessibleItems = %v, want only deal 11", l.GetItems())
	}
	f := servicetest.Try(e.client.LookupAccessFilter(owner, &visibilityv1.LookupAccessFilterRequest{ItemType: deal})).Must(t)
	if fmt.Sprint(f.GetHiddenPipelineIds()) != "[2]" {
		t.Fatalf("filter hidden pipelines = %v, want [2]", f.GetHiddenPipelineIds())
	}
	if got := c.viewers(deal, 10); fmt.Sprint(got) != "[3 4]" {
		t.Fatalf("viewers = %v, want [3 4]", got)
	}
	// Showing the pipeline again gives the owner its deal back.
	v = servicetest.Try(e.client.UpdateGroupPipelines(c.svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g,
		VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{2}}})).Must(t).GetVersion()
	c.wantAccess(1, deal, 10, v, true, rOwner)
}

func TestV7_DealAdminSeesHiddenPipeline(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)
	c.pipeline(1)
	c.pipeline(2)
	c.hide(g, 1)
	c.user(1, g, perms{change: true})
	c.user(2, g, perms{deal: true})
	c.user(3, g, perms{app: true})
	c.user(4, g, perms{global: true})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtOwner, PipelineId: 1})
	c.wantAccess(2, deal, 1, 0, true, rDealAdmin)
	c.wantAccess(3, deal, 1, 0, true, rAppAdmin)
	c.wantAccess(4, deal, 1, 0, false, rHidden)
	for _, u := range []int64{2, 3} {
		r := servicetest.Try(e.client.CheckAccess(c.as(u), &visibilityv1.CheckAccessRequest{Item: ref(deal, 1)})).Must(t)
		if !r.GetAllowed() {
			t.Fatalf("user %d: %v", u, r)
		}
		servicetest.Try(e.client.GetItem(c.as(u), &visibilityv1.GetItemRequest{Item: ref(deal, 1)})).Must(t)
		ps := servicetest.Try(e.client.ListPipelines(c.as(u), &visibilityv1.ListPipelinesRequest{UserId: u})).Must(t).GetPipelines()
		if len(ps) != 2 {
			t.Fatalf("user %d ListPipelines = %v, want both", u, ps)
		}
		f := servicetest.Try(e.client.LookupAccessFilter(c.as(u), &visibilityv1.LookupAccessFilterRequest{ItemType: deal})).Must(t)
		if !f.GetSeesAll() || len(f.GetHiddenPipelineIds()) != 0 {
			t.Fatalf("user %d filter = %v", u, f)
		}
	}
}

func TestV7_HidingLastVisiblePipelineIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)
	c.pipeline(1)
	c.pipeline(2)
	c.pipeline(3)
	update := func(add, remove []int64) (*visibilityv1.UpdateGroupPipelinesResponse, error) {
		return e.client.UpdateGroupPipelines(c.svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g,
			VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: add, Remove: remove}})
	}
	refused := func(add, remove []int64) {
		t.Helper()
		before := snapshotDB(t, conn)
		_, err := update(add, remove)
		wantErr(t, err, codes.FailedPrecondition, errLastPipeline)
		if after := snapshotDB(t, conn); after != before {
			t.Fatalf("refused update changed the database")
		}
	}
	refused(nil, []int64{1, 2, 3})
	r := servicetest.Try(update(nil, []int64{1, 2})).Must(t)
	if fmt.Sprint(r.GetVisiblePipelineIds()) != "[3]" || fmt.Sprint(r.GetGroup().GetHiddenPipelineIds()) != "[1 2]" {
		t.Fatalf("UpdateGroupPipelines = %v", r)
	}
	refused(nil, []int64{3})
	refused([]int64{}, []int64{3})
	// Swapping in one call is fine: show 1, hide 3.
	r = servicetest.Try(update([]int64{1}, []int64{3})).Must(t)
	if fmt.Sprint(r.GetVisiblePipelineIds()) != "[1]" {
		t.Fatalf("after swap visible = %v", r.GetVisiblePipelineIds())
	}
	if got := c.getGroup(g).GetHiddenPipelineIds(); fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("hidden = %v", got)
	}
	refused(nil, []int64{1})
	// A new pipeline is visible to every group until hidden.
	c.pipeline(4)
	r = servicetest.Try(update(nil, []int64{1})).Must(t)
	if fmt.Sprint(r.GetVisiblePipelineIds()) != "[4]" {
		t.Fatalf("visible = %v, want [4]", r.GetVisiblePipelineIds())
	}
}

func TestV7_ListPipelinesOmitsHiddenOnes(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)
	for id := int64(1); id <= 4; id++ {
		c.pipeline(id)
	}
	c.hide(g, 2, 4)
	c.user(1, g, perms{})
	c.user(2, 0, perms{})
	ids := func(ps []*visibilityv1.Pipeline) string {
		var out []int64
		for _, p := range ps {
			out = append(out, p.GetId())
		}
		return fmt.Sprint(out)
	}
	list := func(ctx context.Context, u int64) string {
		t.Helper()
		return ids(servicetest.Try(e.client.ListPipelines(ctx, &visibilityv1.ListPipelinesRequest{UserId: u})).Must(t).GetPipelines())
	}
	if got := list(c.as(1), 1); got != "[1 3]" {
		t.Fatalf("user 1 as itself: %s, want [1 3]", got)
	}
	if got := list(c.svc, 1); got != "[1 3]" {
		t.Fatalf("user 1 via service: %s, want [1 3]", got)
	}
	if got := list(c.as(2), 2); got != "[1 2 3 4]" {
		t.Fatalf("user 2: %s", got)
	}
	if got := list(c.svc, 0); got != "[1 2 3 4]" {
		t.Fatalf("all: %s", got)
	}
	_, err := e.client.ListPipelines(c.as(1), &visibilityv1.ListPipelinesRequest{UserId: 2})
	wantErr(t, err, codes.PermissionDenied, errSubjectNotCaller)
	// A deactivated user sees no pipeline.
	servicetest.Try(e.client.DeactivateUser(c.svc, &visibilityv1.DeactivateUserRequest{UserId: 2})).Must(t)
	if got := list(c.svc, 2); got != "[]" {
		t.Fatalf("deactivated user: %s", got)
	}
}

func TestV8_ImportedItemsAreOwnedByImporter(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, &visibilityv1.DefaultVisibility{Person: vtOwner})
	c.user(1, g, perms{})
	c.user(2, 0, perms{})
	r := servicetest.Try(e.client.BatchUpsertItems(c.svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 1, Items: []*visibilityv1.Item{
		{Type: person, Id: 1}, {Type: person, Id: 2, OwnerId: 2}, {Type: org, Id: 1}}})).Must(t)
	if r.GetCreatedCount() != 3 {
		t.Fatalf("created_count = %d", r.GetCreatedCount())
	}
	want := []struct {
		typ   visibilityv1.ItemType
		id    int64
		owner int64
		vt    visibilityv1.VisibleTo
	}{{person, 1, 1, vtOwner}, {person, 2, 2, vtCompany}, {org, 1, 1, vtGroup}}
	for i, w := range want {
		for _, it := range []*visibilityv1.Item{r.GetItems()[i], c.getItem(w.typ, w.id)} {
			if it.GetOwnerId() != w.owner || it.GetVisibleTo() != w.vt {
				t.Fatalf("%v %d = %v, want owner %d visible_to %v", w.typ, w.id, it, w.owner, w.vt)
			}
		}
	}
	c.wantAccess(1, person, 1, r.GetVersion(), true, rOwner)
	// A user importing for itself owns what it imports.
	r = servicetest.Try(e.client.BatchUpsertItems(c.as(2), &visibilityv1.BatchUpsertItemsRequest{Items: []*visibilityv1.Item{{Type: product, Id: 1}, {Type: product, Id: 2}}})).Must(t)
	for _, it := range r.GetItems() {
		if it.GetOwnerId() != 2 {
			t.Fatalf("imported by user 2: %v", it)
		}
	}
	// Re-importing existing items counts nothing as created.
	r = servicetest.Try(e.client.BatchUpsertItems(c.svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 2, Items: []*visibilityv1.Item{{Type: product, Id: 1}, {Type: product, Id: 3}}})).Must(t)
	if r.GetCreatedCount() != 1 {
		t.Fatalf("created_count = %d, want 1", r.GetCreatedCount())
	}
	// The same item twice in one batch: the later one wins and it is created once.
	r = servicetest.Try(e.client.BatchUpsertItems(c.svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 2, Items: []*visibilityv1.Item{
		{Type: product, Id: 4, OwnerId: 1}, {Type: product, Id: 5}, {Type: product, Id: 4, OwnerId: 2}}})).Must(t)
	if r.GetCreatedCount() != 2 || len(r.GetItems()) != 3 || r.GetItems()[0].GetOwnerId() != 2 || c.getItem(product, 4).GetOwnerId() != 2 {
		t.Fatalf("batch with a duplicate = %v, want 2 created and owner 2", r)
	}
}

func TestV8_ChangeOwnerAndFollowers(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	x := c.group("X", 0, nil)
	y := c.group("Y", 0, nil)
	c.user(1, x, perms{change: true})
	c.user(2, y, perms{})
	c.user(3, y, perms{})
	c.user(4, 0, perms{})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtOwner})
	c.wantAccess(2, deal, 1, 0, false, rNotVisible)

	r := servicetest.Try(e.client.ChangeItemOwner(c.svc, &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, 1), OwnerId: 2})).Must(t)
	if r.GetItem().GetOwnerId() != 2 || c.getItem(deal, 1).GetOwnerId() != 2 || r.GetItem().GetVisibleTo() != vtOwner {
		t.Fatalf("ChangeItemOwner = %v", r.GetItem())
	}
	c.wantAccess(2, deal, 1, r.GetVersion(), true, rOwner)
	c.wantAccess(1, deal, 1, r.GetVersion(), false, rNotVisible) // exactly one owner
	_, err := e.client.ChangeItemOwner(c.svc, &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, 1), OwnerId: 99})
	wantErr(t, err, codes.NotFound, errUserNotFound)

	a := servicetest.Try(e.client.AddItemFollowers(c.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{4, 1, 4}})).Must(t)
	if fmt.Sprint(a.GetItem().GetFollowerIds()) != "[1 4]" {
		t.Fatalf("followers = %v", a.GetItem().GetFollowerIds())
	}
	c.wantAccess(4, deal, 1, a.GetVersion(), true, rFollower)
	c.wantAccess(1, deal, 1, a.GetVersion(), true, rFollower)
	// An unknown follower refuses the whole call.
	_, err = e.client.AddItemFollowers(c.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{3, 99}})
	wantErr(t, err, codes.NotFound, errUserNotFound)
	f := servicetest.Try(e.client.ListItemFollowers(c.svc, &visibilityv1.ListItemFollowersRequest{Item: ref(deal, 1)})).Must(t)
	if fmt.Sprint(f.GetUserIds()) != "[1 4]" {
		t.Fatalf("ListItemFollowers = %v", f.GetUserIds())
	}
	// A follower may itself add followers as a user (it can see the item).
	servicetest.Try(e.client.AddItemFollowers(c.as(4), &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{3}})).Must(t)

	rm := servicetest.Try(e.client.RemoveItemFollowers(c.svc, &visibilityv1.RemoveItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{4, 77}})).Must(t)
	if fmt.Sprint(rm.GetItem().GetFollowerIds()) != "[1 3]" {
		t.Fatalf("followers after remove = %v", rm.GetItem().GetFollowerIds())
	}
	c.wantAccess(4, deal, 1, rm.GetVersion(), false, rNotVisible)
	// The owner does not lose ownership by following; followers do not change owners.
	if got := c.getItem(deal, 1).GetOwnerId(); got != 2 {
		t.Fatalf("owner = %d", got)
	}
	// Someone who cannot see the item cannot change it.
	_, err = e.client.ChangeItemOwner(c.as(4), &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, 1), OwnerId: 4})
	wantErr(t, err, codes.NotFound, errItemNotFound)
}

func TestV9_OtherCompanysIdsAreNotFound(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	one := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	two := newCo(t, e, 2, visibilityv1.Plan_PLAN_ENTERPRISE)
	// Company 1's ids, all distinctive numbers: user 4101, group g1, pipeline 4103, items 4104.
	g1 := one.group("one's group", 0, nil)
	one.pipeline(4103)
	one.user(4101, g1, perms{change: true})
	one.item(4101, &visibilityv1.Item{Type: deal, Id: 4104, VisibleTo: vtCompany, PipelineId: 4103})
	one.item(4101, &visibilityv1.Item{Type: person, Id: 4104, VisibleTo: vtCompany})
	// Company 2 has things of its own.
	g2 := two.group("two's group", 0, nil)
	two.pipeline(1)
	two.user(7, g2, perms{settings: true, change: true})
	two.item(7, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtCompany})
	// Ids that exist nowhere.
	const nowhere = 9901
	gNowhere := g2 + 5000

	svc, user := two.svc, two.as(7)
	cl := e.client
	type call func(ctx context.Context, id int64) (proto.Message, error)
	var (
		dealRef = func(id int64) *visibilityv1.ItemRef { return ref(deal, id) }
		mask    = func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	)
	tests := []struct {
		name     string
		existing int64 // an id of company 1
		never    int64
		call     call
		code     codes.Code // the code the call must fail with; OK for decisions on missing items
	}{
		{"GetUser", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.GetUser(ctx, &visibilityv1.GetUserRequest{UserId: id})
		}, codes.NotFound},
		{"DeactivateUser", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.DeactivateUser(ctx, &visibilityv1.DeactivateUserRequest{UserId: id})
		}, codes.NotFound},
		{"SetUserGroup.user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.SetUserGroup(ctx, &visibilityv1.SetUserGroupRequest{UserId: id, GroupId: g2})
		}, codes.NotFound},
		{"SetUserGroup.group_id", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.SetUserGroup(ctx, &visibilityv1.SetUserGroupRequest{UserId: 7, GroupId: id})
		}, codes.NotFound},
		{"RemoveUserFromGroup", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.RemoveUserFromGroup(ctx, &visibilityv1.RemoveUserFromGroupRequest{UserId: id})
		}, codes.NotFound},
		{"GetGroup", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.GetGroup(ctx, &visibilityv1.GetGroupRequest{GroupId: id})
		}, codes.NotFound},
		{"CreateGroup.parent_id", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.CreateGroup(ctx, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "x", ParentId: id}})
		}, codes.NotFound},
		{"UpdateGroup.id", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpdateGroup(ctx, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: id, Name: "x"}, UpdateMask: mask("name")})
		}, codes.NotFound},
		{"UpdateGroup.default_visibility", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpdateGroup(ctx, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: id,
				DefaultVisibility: &visibilityv1.DefaultVisibility{Deal: vtOwner}}, UpdateMask: mask("default_visibility")})
		}, codes.NotFound},
		{"UpdateGroup.parent_id", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpdateGroup(ctx, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: g2, ParentId: id}, UpdateMask: mask("parent_id")})
		}, codes.NotFound},
		{"DeleteGroup", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.DeleteGroup(ctx, &visibilityv1.DeleteGroupRequest{GroupId: id, MoveMembersAndSubgroups: true})
		}, codes.NotFound},
		{"UpdateGroupPipelines.group_id", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpdateGroupPipelines(ctx, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: id,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{1}}})
		}, codes.NotFound},
		{"UpdateGroupPipelines.remove", 4103, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpdateGroupPipelines(ctx, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g2,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{id}}})
		}, codes.NotFound},
		{"UpdateGroupPipelines.add", 4103, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpdateGroupPipelines(ctx, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g2,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{id}}})
		}, codes.NotFound},
		{"DeletePipeline", 4103, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.DeletePipeline(ctx, &visibilityv1.DeletePipelineRequest{PipelineId: id})
		}, codes.NotFound},
		{"UpsertItem.owner_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpsertItem(ctx, &visibilityv1.UpsertItemRequest{ActingUserId: 7, Item: &visibilityv1.Item{Type: deal, Id: 2, OwnerId: id}})
		}, codes.NotFound},
		{"UpsertItem.acting_user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpsertItem(ctx, &visibilityv1.UpsertItemRequest{ActingUserId: id, Item: &visibilityv1.Item{Type: deal, Id: 2, OwnerId: 7}})
		}, codes.NotFound},
		{"UpsertItem.pipeline_id", 4103, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.UpsertItem(ctx, &visibilityv1.UpsertItemRequest{ActingUserId: 7, Item: &visibilityv1.Item{Type: deal, Id: 2, PipelineId: id}})
		}, codes.NotFound},
		{"BatchUpsertItems.owner_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.BatchUpsertItems(ctx, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 7, Items: []*visibilityv1.Item{{Type: deal, Id: 2, OwnerId: id}}})
		}, codes.NotFound},
		{"GetItem", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.GetItem(ctx, &visibilityv1.GetItemRequest{Item: dealRef(id)})
		}, codes.NotFound},
		{"DeleteItem", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.DeleteItem(ctx, &visibilityv1.DeleteItemRequest{Item: dealRef(id)})
		}, codes.NotFound},
		{"ChangeItemOwner.item", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ChangeItemOwner(ctx, &visibilityv1.ChangeItemOwnerRequest{Item: dealRef(id), OwnerId: 7})
		}, codes.NotFound},
		{"ChangeItemOwner.owner_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ChangeItemOwner(ctx, &visibilityv1.ChangeItemOwnerRequest{Item: dealRef(1), OwnerId: id})
		}, codes.NotFound},
		{"AddItemFollowers.item", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.AddItemFollowers(ctx, &visibilityv1.AddItemFollowersRequest{Item: dealRef(id), UserIds: []int64{7}})
		}, codes.NotFound},
		{"AddItemFollowers.user_ids", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.AddItemFollowers(ctx, &visibilityv1.AddItemFollowersRequest{Item: dealRef(1), UserIds: []int64{id}})
		}, codes.NotFound},
		{"RemoveItemFollowers", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.RemoveItemFollowers(ctx, &visibilityv1.RemoveItemFollowersRequest{Item: dealRef(id), UserIds: []int64{7}})
		}, codes.NotFound},
		// Removing followers who are not there is a no-op, whoever they are.
		{"RemoveItemFollowers.user_ids", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			r, err := cl.RemoveItemFollowers(ctx, &visibilityv1.RemoveItemFollowersRequest{Item: dealRef(1), UserIds: []int64{id}})
			if r != nil {
				r.Item.CreateTime, r.Item.UpdateTime = nil, nil
			}
			return r, err
		}, codes.OK},
		{"ListItemFollowers", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ListItemFollowers(ctx, &visibilityv1.ListItemFollowersRequest{Item: dealRef(id)})
		}, codes.NotFound},
		{"ListItemViewers", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ListItemViewers(ctx, &visibilityv1.ListItemViewersRequest{Item: dealRef(id)})
		}, codes.NotFound},
		{"CheckAccess.user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.CheckAccess(ctx, &visibilityv1.CheckAccessRequest{UserId: id, Item: dealRef(1)})
		}, codes.NotFound},
		{"BatchCheckAccess.user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.BatchCheckAccess(ctx, &visibilityv1.BatchCheckAccessRequest{UserId: id, Items: []*visibilityv1.ItemRef{dealRef(1)}})
		}, codes.NotFound},
		{"LookupAccessFilter.user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.LookupAccessFilter(ctx, &visibilityv1.LookupAccessFilterRequest{UserId: id, ItemType: deal})
		}, codes.NotFound},
		{"ListAccessibleItems.user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ListAccessibleItems(ctx, &visibilityv1.ListAccessibleItemsRequest{UserId: id, ItemType: deal})
		}, codes.NotFound},
		{"ExplainAccess.user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ExplainAccess(ctx, &visibilityv1.ExplainAccessRequest{UserId: id, Item: dealRef(1)})
		}, codes.NotFound},
		{"ListPipelines.user_id", 4101, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ListPipelines(ctx, &visibilityv1.ListPipelinesRequest{UserId: id})
		}, codes.NotFound},
		// Decisions report a missing item as a decision (DECISION_REASON_ITEM_NOT_FOUND), not an error.
		{"CheckAccess.item", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.CheckAccess(ctx, &visibilityv1.CheckAccessRequest{UserId: 7, Item: dealRef(id)})
		}, codes.OK},
		{"BatchCheckAccess.items", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.BatchCheckAccess(ctx, &visibilityv1.BatchCheckAccessRequest{UserId: 7, Items: []*visibilityv1.ItemRef{dealRef(id), ref(person, id)}})
		}, codes.OK},
		{"ExplainAccess.item", 4104, nowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ExplainAccess(ctx, &visibilityv1.ExplainAccessRequest{UserId: 7, Item: dealRef(id)})
		}, codes.OK},
		// ListUsers filters by group: another company's group has no users here.
		{"ListUsers.group_id", g1, gNowhere, func(ctx context.Context, id int64) (proto.Message, error) {
			return cl.ListUsers(ctx, &visibilityv1.ListUsersRequest{GroupId: id})
		}, codes.OK},
	}
	before := snapshotDB(t, conn)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []struct {
				name string
				ctx  context.Context
			}{{"service", svc}, {"user", user}} {
				r1, err1 := tt.call(p.ctx, tt.existing)
				r2, err2 := tt.call(p.ctx, tt.never)
				// As the user, some calls are refused for other reasons (asking about
				// another user); the answers must still be identical.
				if code := status.Code(err1); p.name == "service" && code != tt.code {
					t.Fatalf("%s: %v, want %v", p.name, err1, tt.code)
				}
				a, b := normalize(r1, err1, tt.existing), normalize(r2, err2, tt.never)
				if a != b {
					t.Fatalf("%s: the answer for another company's id differs from a never-existing id's:\n%s\n%s", p.name, a, b)
				}
				if tt.code == codes.OK && strings.Contains(a, "4101") {
					t.Fatalf("%s: the answer names another company's user: %s", p.name, a)
				}
			}
		})
	}
	if after := snapshotDB(t, conn); after != before {
		t.Fatalf("calls with another company's ids changed the database:\nbefore\n%s\nafter\n%s", before, after)
	}

	// A user id of company 1 used in a token of company 2 is nobody.
	stranger := e.As(t, auth.Principal{Kind: auth.KindUser, CompanyID: 2, UserID: 4101})
	_, err := cl.CheckAccess(stranger, &visibilityv1.CheckAccessRequest{Item: dealRef(1)})
	wantErr(t, err, codes.NotFound, errUserNotFound)
	_, err = cl.GetItem(stranger, &visibilityv1.GetItemRequest{Item: dealRef(4104)})
	wantErr(t, err, codes.NotFound, errItemNotFound)
	// Company 2 lists only its own.
	l := servicetest.Try(cl.ListAccessibleItems(user, &visibilityv1.ListAccessibleItemsRequest{ItemType: deal})).Must(t)
	if len(l.GetItems()) != 1 || l.GetItems()[0].GetId() != 1 {
		t.Fatalf("ListAccessibleItems = %v", l.GetItems())
	}
	ps := servicetest.Try(cl.ListPipelines(svc, &visibilityv1.ListPipelinesRequest{})).Must(t).GetPipelines()
	if len(ps) != 1 || ps[0].GetId() != 1 {
		t.Fatalf("ListPipelines = %v", ps)
	}
	us := servicetest.Try(cl.ListUsers(svc, &visibilityv1.ListUsersRequest{})).Must(t).GetUsers()
	if len(us) != 1 || us[0].GetId() != 7 {
		t.Fatalf("ListUsers = %v", us)
	}
	gs := servicetest.Try(cl.ListGroups(svc, &visibilityv1.ListGroupsRequest{})).Must(t).GetRoots()
	if len(gs) != 2 || gs[0].GetGroup().GetId() != two.def || gs[1].GetGroup().GetId() != g2 {
		t.Fatalf("ListGroups = %v", gs)
	}
	// Upserts create company 2's own objects under the same ids, leaving company 1's alone.
	if r := servicetest.Try(cl.UpsertUser(svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 4101, Active: true}})).Must(t); !r.GetCreated() || r.GetUser().GetGroupId() != two.def {
		t.Fatalf("company 2 UpsertUser(4101) = %v", r)
	}
	if r := servicetest.Try(cl.UpsertPipeline(svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: 4103, Name: "two's"}})).Must(t); !r.GetCreated() {
		t.Fatalf("company 2 UpsertPipeline(4103) = %v", r)
	}
	if r := two.item(7, &visibilityv1.Item{Type: deal, Id: 4104, OwnerId: 4101, VisibleTo: vtOwner}); !r.GetCreated() {
		t.Fatalf("company 2 UpsertItem(deal 4104) = %v", r)
	}
	if it := one.getItem(deal, 4104); it.GetOwnerId() != 4101 || it.GetVisibleTo() != vtCompany || it.GetPipelineId() != 4103 {
		t.Fatalf("company 1's deal changed: %v", it)
	}
	if u := one.getUser(4101); u.GetGroupId() != g1 {
		t.Fatalf("company 1's user changed: %v", u)
	}
	one.wantAccess(4101, deal, 4104, 0, true, rOwner)
	two.wantAccess(7, deal, 4104, 0, false, rNotVisible)

	// A company that is not set up reads as not found, not as someone else's.
	_, err = cl.GetCompany(e.Service(t, 3), &visibilityv1.GetCompanyRequest{})
	wantErr(t, err, codes.NotFound, errCompanyNotFound)
}

func TestV10_ExplainAccessNamesTheRule(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	top := c.group("top", 0, nil)
	mid := c.group("mid", top, nil)
	low := c.group("low", mid, nil)
	c.pipeline(1)
	c.pipeline(2)
	c.hide(low, 2)
	c.user(1, mid, perms{change: true}) // owner
	c.user(2, top, perms{})
	c.user(3, mid, perms{})
	c.user(4, low, perms{})
	c.user(5, 0, perms{})
	c.user(6, 0, perms{deal: true})
	c.user(7, 0, perms{global: true})
	c.user(8, 0, perms{app: true})
	c.user(9, 0, perms{})
	c.user(10, low, perms{})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtSubgroups, PipelineId: 1})
	c.item(1, &visibilityv1.Item{Type: person, Id: 2, VisibleTo: vtGroup})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 3, VisibleTo: vtCompany, PipelineId: 2})
	servicetest.Try(e.client.AddItemFollowers(c.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{9}})).Must(t)
	servicetest.Try(e.client.DeactivateUser(c.svc, &visibilityv1.DeactivateUserRequest{UserId: 10})).Must(t)

	tests := []struct {
		user   int64
		ref    *visibilityv1.ItemRef
		reason visibilityv1.DecisionReason
		facts  []string // substrings some fact must contain
	}{
		{1, ref(deal, 1), rOwner, []string{"viewer 1 is the owner"}},
		{9, ref(deal, 1), rFollower, []string{"follows the item"}},
		{2, ref(deal, 1), rAncestor, []string{fmt.Sprintf("group %d is an ancestor of group %d", top, mid)}},
		{3, ref(person, 2), rOwnerGroup, []string{fmt.Sprintf("both in group %d", mid)}},
		{4, ref(deal, 1), rSubgroup, []string{fmt.Sprintf("group %d is a descendant of group %d", low, mid)}},
		{5, ref(deal, 3), rCompany, []string{"visible_to=ENTIRE_COMPANY(7)"}},
		{8, ref(person, 2), rAppAdmin, []string{"app admin"}},
		{6, ref(deal, 1), rDealAdmin, []string{"deal admin"}},
		{7, ref(person, 2), rGlobalAdmin, []string{"global admin"}},
		{5, ref(person, 2), rNotVisible, []string{"unrelated"}},
		{4, ref(deal, 3), rHidden, []string{fmt.Sprintf("pipeline 2 is hidden for group %d", low)}},
		{10, ref(deal, 3), rInactive, []string{"deactivated"}},
		{5, ref(lead, 77), rNoItem, []string{"not in the registry"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v", tt.reason), func(t *testing.T) {
			x := servicetest.Try(e.client.ExplainAccess(c.svc, &visibilityv1.ExplainAccessRequest{UserId: tt.user, Item: tt.ref})).Must(t)
			d := c.with(t).check(tt.user, tt.ref.GetType(), tt.ref.GetId(), 0)
			if x.GetReason() != tt.reason || x.GetAllowed() != d.GetAllowed() || x.GetReason() != d.GetReason() || x.GetVersion() != d.GetVersion() {
				t.Fatalf("ExplainAccess = %v; CheckAccess = %v; want %v", x, d, tt.reason)
			}
			facts := x.GetFacts()
			if len(facts) == 0 {
				t.Fatal("no facts")
			}
			name := strings.TrimPrefix(tt.reason.String(), "DECISION_REASON_")
			if tt.reason != rNoItem && !strings.Contains(facts[len(facts)-1], name) {
				t.Fatalf("last fact %q does not name the rule %s", facts[len(facts)-1], name)
			}
			all := strings.Join(facts, "\n")
			for _, want := range tt.facts {
				if !strings.Contains(all, want) {
					t.Fatalf("facts do not say %q:\n%s", want, all)
				}
			}
		})
	}
	// A user principal may explain only its own access.
	_, err := e.client.ExplainAccess(c.as(5), &visibilityv1.ExplainAccessRequest{UserId: 1, Item: ref(deal, 1)})
	wantErr(t, err, codes.PermissionDenied, errSubjectNotCaller)
	x := servicetest.Try(e.client.ExplainAccess(c.as(2), &visibilityv1.ExplainAccessRequest{Item: ref(deal, 1)})).Must(t)
	if !x.GetAllowed() || x.GetReason() != rAncestor {
		t.Fatalf("user 2 explains its own access: %v", x)
	}
}
