package visibility_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// TestBadInputIsRefusedAndChangesNothing sends requests that must be refused
// and checks, for each, the code, the ErrorInfo reason, the BadRequest field
// for INVALID_ARGUMENT, and that no row of any table changed.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	cl := e.client

	// Company 1 (professional) at its group limit: a > b > c. Company 2 owns
	// other ids; company 3 is on essential.
	one := newCo(t, e, 1, visibilityv1.Plan_PLAN_PROFESSIONAL)
	a := one.group("a", 0, nil)
	b := one.group("b", a, nil)
	gc := one.group("c", b, nil)
	one.pipeline(1)
	one.pipeline(2)
	one.hide(b, 1)
	one.user(10, a, perms{change: true})
	one.user(11, gc, perms{})
	one.user(12, 0, perms{settings: true})
	one.item(10, &visibilityv1.Item{Type: deal, Id: 1, PipelineId: 2})
	one.item(10, &visibilityv1.Item{Type: person, Id: 1, VisibleTo: vtCompany})
	// One extra group, used by a group created with a request id: company 1 is at its limit.
	servicetest.Try(cl.UpdateCompany(one.svc, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{ExtraGroups: 1},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"extra_groups"}}})).Must(t)
	idem := servicetest.Try(cl.CreateGroup(one.svc, &visibilityv1.CreateGroupRequest{RequestId: "req-1",
		Group: &visibilityv1.Group{Name: "idem", ParentId: gc}})).Must(t).GetGroup().GetId()

	two := newCo(t, e, 2, visibilityv1.Plan_PLAN_ENTERPRISE)
	g2 := two.group("two", 0, nil)
	two.pipeline(20)
	two.user(20, g2, perms{change: true})
	two.item(20, &visibilityv1.Item{Type: deal, Id: 20})

	three := newCo(t, e, 3, visibilityv1.Plan_PLAN_ESSENTIAL)
	three.user(30, 0, perms{change: true})

	// Page tokens issued by real requests, to be replayed where they do not belong.
	usersToken := servicetest.Try(cl.ListUsers(one.svc, &visibilityv1.ListUsersRequest{PageSize: 1})).Must(t).GetNextPageToken()
	one.item(10, &visibilityv1.Item{Type: person, Id: 2})
	user10Token := servicetest.Try(cl.ListAccessibleItems(one.svc, &visibilityv1.ListAccessibleItemsRequest{UserId: 10, ItemType: person, PageSize: 1})).Must(t).GetNextPageToken()
	viewersToken := servicetest.Try(cl.ListItemViewers(one.svc, &visibilityv1.ListItemViewersRequest{Item: ref(person, 1), PageSize: 1})).Must(t).GetNextPageToken()
	if usersToken == "" || user10Token == "" || viewersToken == "" {
		t.Fatalf("fixture: no page tokens (%q, %q, %q)", usersToken, user10Token, viewersToken)
	}

	svc, svc3 := one.svc, three.svc
	u10, u11 := one.as(10), one.as(11)
	long := strings.Repeat("é", 256) // 256 characters, 512 bytes
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	item := func(it *visibilityv1.Item) *visibilityv1.UpsertItemRequest {
		return &visibilityv1.UpsertItemRequest{ActingUserId: 10, Item: it}
	}
	tooMany := make([]*visibilityv1.Item, 1001)
	tooManyRefs := make([]*visibilityv1.ItemRef, 1001)
	for i := range tooMany {
		tooMany[i] = &visibilityv1.Item{Type: product, Id: int64(i + 1)}
		tooManyRefs[i] = ref(product, int64(i+1))
	}
	ok := func(_ any, err error) error { return err }

	const (
		ia = codes.InvalidArgument
		nf = codes.NotFound
		fp = codes.FailedPrecondition
		pd = codes.PermissionDenied
	)
	tests := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason string
		field  string // BadRequest field, for INVALID_ARGUMENT
	}{
		// Unknown ids.
		{"GetUser unknown", func() error { return ok(cl.GetUser(svc, &visibilityv1.GetUserRequest{UserId: 999})) }, nf, errUserNotFound, ""},
		{"SetUserGroup unknown user", func() error {
			return ok(cl.SetUserGroup(svc, &visibilityv1.SetUserGroupRequest{UserId: 999, GroupId: a}))
		}, nf, errUserNotFound, ""},
		{"SetUserGroup unknown group", func() error {
			return ok(cl.SetUserGroup(svc, &visibilityv1.SetUserGroupRequest{UserId: 10, GroupId: 99999}))
		}, nf, errGroupNotFound, ""},
		{"RemoveUserFromGroup unknown", func() error {
			return ok(cl.RemoveUserFromGroup(svc, &visibilityv1.RemoveUserFromGroupRequest{UserId: 999}))
		}, nf, errUserNotFound, ""},
		{"DeactivateUser unknown", func() error {
			return ok(cl.DeactivateUser(svc, &visibilityv1.DeactivateUserRequest{UserId: 999}))
		}, nf, errUserNotFound, ""},
		{"DeleteGroup unknown", func() error {
			return ok(cl.DeleteGroup(svc, &visibilityv1.DeleteGroupRequest{GroupId: 99999, MoveMembersAndSubgroups: true}))
		}, nf, errGroupNotFound, ""},
		{"UpdateGroup unknown", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: 99999, Name: "x"}, UpdateMask: mask("name")}))
		}, nf, errGroupNotFound, ""},
		{"UpdateGroup unknown parent", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: a, ParentId: 99999}, UpdateMask: mask("parent_id")}))
		}, nf, errGroupNotFound, ""},
		{"DeletePipeline unknown", func() error {
			return ok(cl.DeletePipeline(svc, &visibilityv1.DeletePipelineRequest{PipelineId: 999}))
		}, nf, errPipelineNotFound, ""},
		{"UpdateGroupPipelines unknown pipeline", func() error {
			return ok(cl.UpdateGroupPipelines(svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: a,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{2, 999}}}))
		}, nf, errPipelineNotFound, ""},
		{"UpsertItem unknown owner", func() error { return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: lead, Id: 5, OwnerId: 999}))) }, nf, errUserNotFound, ""},
		{"UpsertItem unknown pipeline", func() error {
			return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: deal, Id: 5, PipelineId: 999})))
		}, nf, errPipelineNotFound, ""},
		{"BatchUpsertItems one unknown owner", func() error {
			return ok(cl.BatchUpsertItems(svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 10,
				Items: []*visibilityv1.Item{{Type: lead, Id: 5}, {Type: lead, Id: 6, OwnerId: 999}}}))
		}, nf, errUserNotFound, ""},
		{"DeleteItem unknown", func() error { return ok(cl.DeleteItem(svc, &visibilityv1.DeleteItemRequest{Item: ref(deal, 999)})) }, nf, errItemNotFound, ""},
		{"DeleteItem wrong type", func() error { return ok(cl.DeleteItem(svc, &visibilityv1.DeleteItemRequest{Item: ref(lead, 1)})) }, nf, errItemNotFound, ""},
		{"ChangeItemOwner unknown owner", func() error {
			return ok(cl.ChangeItemOwner(svc, &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, 1), OwnerId: 999}))
		}, nf, errUserNotFound, ""},
		{"AddItemFollowers unknown user", func() error {
			return ok(cl.AddItemFollowers(svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{11, 999}}))
		}, nf, errUserNotFound, ""},
		{"RemoveItemFollowers unknown item", func() error {
			return ok(cl.RemoveItemFollowers(svc, &visibilityv1.RemoveItemFollowersRequest{Item: ref(deal, 999), UserIds: []int64{11}}))
		}, nf, errItemNotFound, ""},
		{"CheckAccess unknown user", func() error {
			return ok(cl.CheckAccess(svc, &visibilityv1.CheckAccessRequest{UserId: 999, Item: ref(deal, 1)}))
		}, nf, errUserNotFound, ""},
		{"company not set up", func() error {
			return ok(cl.UpsertUser(e.Service(t, 77), &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 1}}))
		}, nf, errCompanyNotFound, ""},

		// Another company's ids.
		{"SetUserGroup other company's group", func() error {
			return ok(cl.SetUserGroup(svc, &visibilityv1.SetUserGroupRequest{UserId: 10, GroupId: g2}))
		}, nf, errGroupNotFound, ""},
		{"SetUserGroup other company's user", func() error {
			return ok(cl.SetUserGroup(svc, &visibilityv1.SetUserGroupRequest{UserId: 20, GroupId: a}))
		}, nf, errUserNotFound, ""},
		{"UpdateGroup under other company's group", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: a, ParentId: g2}, UpdateMask: mask("parent_id")}))
		}, nf, errGroupNotFound, ""},
		{"UpdateGroup other company's group", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: g2, Name: "mine"}, UpdateMask: mask("name")}))
		}, nf, errGroupNotFound, ""},
		{"DeleteGroup other company's group", func() error {
			return ok(cl.DeleteGroup(svc, &visibilityv1.DeleteGroupRequest{GroupId: g2}))
		}, nf, errGroupNotFound, ""},
		{"AddItemFollowers other company's user", func() error {
			return ok(cl.AddItemFollowers(svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{20}}))
		}, nf, errUserNotFound, ""},
		{"ChangeItemOwner other company's user", func() error {
			return ok(cl.ChangeItemOwner(svc, &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, 1), OwnerId: 20}))
		}, nf, errUserNotFound, ""},
		{"DeleteItem other company's item", func() error { return ok(cl.DeleteItem(svc, &visibilityv1.DeleteItemRequest{Item: ref(deal, 20)})) }, nf, errItemNotFound, ""},
		{"UpdateGroupPipelines other company's pipeline", func() error {
			return ok(cl.UpdateGroupPipelines(svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: a,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{20}}}))
		}, nf, errPipelineNotFound, ""},
		{"UpsertItem other company's pipeline", func() error {
			return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: deal, Id: 5, PipelineId: 20})))
		}, nf, errPipelineNotFound, ""},
		{"UpsertItem acting as other company's user", func() error {
			return ok(cl.UpsertItem(svc, &visibilityv1.UpsertItemRequest{ActingUserId: 20, Item: &visibilityv1.Item{Type: deal, Id: 5, OwnerId: 10}}))
		}, nf, errUserNotFound, ""},

		// The forest and the plan.
		{"cycle: a under c", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: a, ParentId: gc}, UpdateMask: mask("parent_id")}))
		}, fp, errGroupCycle, ""},
		{"cycle: b under itself", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: b, ParentId: b}, UpdateMask: mask("parent_id")}))
		}, fp, errGroupCycle, ""},
		{"cycle with a rename in the same call", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: a, Name: "renamed", ParentId: idem}, UpdateMask: mask("name", "parent_id")}))
		}, fp, errGroupCycle, ""},
		{"over the group limit", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "fifth"}}))
		}, codes.ResourceExhausted, errGroupLimit, ""},
		{"over the group limit with a new request id", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{RequestId: "req-2", Group: &visibilityv1.Group{Name: "fifth"}}))
		}, codes.ResourceExhausted, errGroupLimit, ""},
		{"request id reused for another group", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{RequestId: "req-1", Group: &visibilityv1.Group{Name: "other"}}))
		}, codes.AlreadyExists, reasonRequestIDReused, ""},
		{"delete group with members", func() error { return ok(cl.DeleteGroup(svc, &visibilityv1.DeleteGroupRequest{GroupId: a})) }, fp, errGroupNotEmpty, ""},
		{"delete default group", func() error {
			return ok(cl.DeleteGroup(svc, &visibilityv1.DeleteGroupRequest{GroupId: one.def, MoveMembersAndSubgroups: true}))
		}, fp, errDefaultImmutable, ""},
		{"move default group", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: one.def, ParentId: a}, UpdateMask: mask("parent_id")}))
		}, fp, errDefaultImmutable, ""},
		{"hide last visible pipeline", func() error {
			return ok(cl.UpdateGroupPipelines(svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: b,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{2}}}))
		}, fp, errLastPipeline, ""},
		{"create company twice", func() error {
			return ok(cl.CreateCompany(svc, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_POWER}))
		}, codes.AlreadyExists, errCompanyExists, ""},
		{"visible_to 3 on essential", func() error {
			return ok(cl.UpsertItem(svc3, &visibilityv1.UpsertItemRequest{ActingUserId: 30, Item: &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtGroup}}))
		}, fp, errNotInPlan, ""},
		{"visible_to 5 on essential", func() error {
			return ok(cl.BatchUpsertItems(svc3, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 30,
				Items: []*visibilityv1.Item{{Type: lead, Id: 1, VisibleTo: vtCompany}, {Type: lead, Id: 2, VisibleTo: vtSubgroups}}}))
		}, fp, errNotInPlan, ""},
		{"default visibility 3 on essential", func() error {
			return ok(cl.UpdateGroup(svc3, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: three.def,
				DefaultVisibility: &visibilityv1.DefaultVisibility{Product: vtGroup}}, UpdateMask: mask("default_visibility")}))
		}, fp, errNotInPlan, ""},
		{"non-default visible_to without permission", func() error {
			return ok(cl.UpsertItem(u11, &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: lead, Id: 9, VisibleTo: vtCompany}}))
		}, pd, errChangeVisibility, ""},

		// Invalid enum values.
		{"item type 9", func() error { return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: 9, Id: 5}))) }, ia, reasonInvalidArgument, "item.type"},
		{"item type 0", func() error { return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Id: 5}))) }, ia, reasonInvalidArgument, "item.type"},
		{"visible_to 2", func() error { return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: deal, Id: 5, VisibleTo: 2}))) }, ia, reasonInvalidArgument, "item.visible_to"},
		{"visible_to 8 in a batch", func() error {
			return ok(cl.BatchUpsertItems(svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 10,
				Items: []*visibilityv1.Item{{Type: deal, Id: 5}, {Type: deal, Id: 6, VisibleTo: 8}}}))
		}, ia, reasonInvalidArgument, "items[1].visible_to"},
		{"plan 0", func() error {
			return ok(cl.CreateCompany(e.Service(t, 4), &visibilityv1.CreateCompanyRequest{Plan: 0}))
		}, ia, reasonInvalidArgument, "plan"},
		{"plan 6", func() error {
			return ok(cl.CreateCompany(e.Service(t, 4), &visibilityv1.CreateCompanyRequest{Plan: 6}))
		}, ia, reasonInvalidArgument, "plan"},
		{"update to plan 0", func() error {
			return ok(cl.UpdateCompany(svc, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{}, UpdateMask: mask("plan")}))
		}, ia, reasonInvalidArgument, "company.plan"},
		{"negative extra groups", func() error {
			return ok(cl.UpdateCompany(svc, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{ExtraGroups: -1}, UpdateMask: mask("extra_groups")}))
		}, ia, reasonInvalidArgument, "company.extra_groups"},
		{"unknown update mask path", func() error {
			return ok(cl.UpdateCompany(svc, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{Plan: 5}, UpdateMask: mask("plan", "version")}))
		}, ia, reasonInvalidArgument, "update_mask"},
		{"default visibility 4", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: a,
				DefaultVisibility: &visibilityv1.DefaultVisibility{Lead: 4}}, UpdateMask: mask("default_visibility")}))
		}, ia, reasonInvalidArgument, "group.default_visibility.lead"},
		{"CheckAccess type 9", func() error {
			return ok(cl.CheckAccess(svc, &visibilityv1.CheckAccessRequest{UserId: 10, Item: ref(9, 1)}))
		}, ia, reasonInvalidArgument, "item.type"},
		{"BatchCheckAccess type 0", func() error {
			return ok(cl.BatchCheckAccess(svc, &visibilityv1.BatchCheckAccessRequest{UserId: 10, Items: []*visibilityv1.ItemRef{ref(deal, 1), ref(0, 1)}}))
		}, ia, reasonInvalidArgument, "items[1]"},
		{"LookupAccessFilter type 0", func() error {
			return ok(cl.LookupAccessFilter(svc, &visibilityv1.LookupAccessFilterRequest{UserId: 10}))
		}, ia, reasonInvalidArgument, "item_type"},
		{"ListAccessibleItems type 6", func() error {
			return ok(cl.ListAccessibleItems(svc, &visibilityv1.ListAccessibleItemsRequest{UserId: 10, ItemType: 6}))
		}, ia, reasonInvalidArgument, "item_type"},
		{"pipeline on a person", func() error {
			return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: person, Id: 5, PipelineId: 2})))
		}, ia, reasonInvalidArgument, "item.pipeline_id"},

		// Sizes.
		{"batch of 1,001 items", func() error {
			return ok(cl.BatchUpsertItems(svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 10, Items: tooMany}))
		}, ia, errBatchTooLarge, "items"},
		{"batch check of 1,001 items", func() error {
			return ok(cl.BatchCheckAccess(svc, &visibilityv1.BatchCheckAccessRequest{UserId: 10, Items: tooManyRefs}))
		}, ia, errBatchTooLarge, "items"},
		{"empty batch", func() error {
			return ok(cl.BatchUpsertItems(svc, &visibilityv1.BatchUpsertItemsRequest{ActingUserId: 10}))
		}, ia, reasonInvalidArgument, "items"},
		{"no followers", func() error {
			return ok(cl.AddItemFollowers(svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1)}))
		}, ia, reasonInvalidArgument, "user_ids"},

		// Page tokens and sizes.
		{"garbage page token", func() error {
			return ok(cl.ListUsers(svc, &visibilityv1.ListUsersRequest{PageToken: "not-a-token"}))
		}, ia, reasonPageToken, "page_token"},
		{"page token with a flipped character", func() error {
			tok := []byte(usersToken)
			tok[len(tok)/2] ^= 1
			return ok(cl.ListUsers(svc, &visibilityv1.ListUsersRequest{PageToken: string(tok)}))
		}, ia, reasonPageToken, "page_token"},
		{"ListUsers token for another group", func() error {
			return ok(cl.ListUsers(svc, &visibilityv1.ListUsersRequest{PageToken: usersToken, GroupId: a}))
		}, ia, reasonPageToken, "page_token"},
		{"ListUsers token in ListAccessibleItems", func() error {
			return ok(cl.ListAccessibleItems(svc, &visibilityv1.ListAccessibleItemsRequest{UserId: 10, ItemType: person, PageToken: usersToken}))
		}, ia, reasonPageToken, "page_token"},
		{"ListAccessibleItems token of another user", func() error {
			return ok(cl.ListAccessibleItems(svc, &visibilityv1.ListAccessibleItemsRequest{UserId: 11, ItemType: person, PageToken: user10Token}))
		}, ia, reasonPageToken, "page_token"},
		{"ListAccessibleItems token of another type", func() error {
			return ok(cl.ListAccessibleItems(u10, &visibilityv1.ListAccessibleItemsRequest{ItemType: deal, PageToken: user10Token}))
		}, ia, reasonPageToken, "page_token"},
		{"ListItemViewers token of another item", func() error {
			return ok(cl.ListItemViewers(svc, &visibilityv1.ListItemViewersRequest{Item: ref(person, 2), PageToken: viewersToken}))
		}, ia, reasonPageToken, "page_token"},
		{"ListUsers negative page size", func() error {
			return ok(cl.ListUsers(svc, &visibilityv1.ListUsersRequest{PageSize: -1}))
		}, ia, reasonInvalidArgument, "page_size"},
		{"ListAccessibleItems negative page size", func() error {
			return ok(cl.ListAccessibleItems(u10, &visibilityv1.ListAccessibleItemsRequest{ItemType: deal, PageSize: -5}))
		}, ia, reasonInvalidArgument, "page_size"},
		{"ListItemViewers negative page size", func() error {
			return ok(cl.ListItemViewers(svc, &visibilityv1.ListItemViewersRequest{Item: ref(deal, 1), PageSize: -1}))
		}, ia, reasonInvalidArgument, "page_size"},

		// Names.
		{"CreateGroup empty name", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{}}))
		}, ia, reasonInvalidArgument, "group.name"},
		{"CreateGroup blank name", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: " \t "}}))
		}, ia, reasonInvalidArgument, "group.name"},
		{"CreateGroup 256-character name", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: long}}))
		}, ia, reasonInvalidArgument, "group.name"},
		{"CreateGroup NUL in name", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "a\x00b"}}))
		}, ia, reasonInvalidArgument, "group.name"},
		{"UpdateGroup empty name", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: a}, UpdateMask: mask("name")}))
		}, ia, reasonInvalidArgument, "group.name"},
		{"UpdateGroup 256-character name", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: a, Name: long}, UpdateMask: mask("name")}))
		}, ia, reasonInvalidArgument, "group.name"},
		{"UpsertUser 256-character name", func() error {
			return ok(cl.UpsertUser(svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 50, Name: long}}))
		}, ia, reasonInvalidArgument, "user.name"},
		{"UpsertUser 256-character email", func() error {
			return ok(cl.UpsertUser(svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 10, Email: long}}))
		}, ia, reasonInvalidArgument, "user.email"},
		{"UpsertPipeline 256-character name", func() error {
			return ok(cl.UpsertPipeline(svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: 3, Name: long}}))
		}, ia, reasonInvalidArgument, "pipeline.name"},
		{"request id over 255 characters", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{RequestId: long, Group: &visibilityv1.Group{Name: "x"}}))
		}, ia, reasonInvalidArgument, "request_id"},

		// Negative and zero ids.
		{"GetUser -1", func() error { return ok(cl.GetUser(svc, &visibilityv1.GetUserRequest{UserId: -1})) }, ia, reasonInvalidArgument, "user_id"},
		{"UpsertUser id -5", func() error {
			return ok(cl.UpsertUser(svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: -5}}))
		}, ia, reasonInvalidArgument, "user.id"},
		{"UpsertUser id 0", func() error {
			return ok(cl.UpsertUser(svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{}}))
		}, ia, reasonInvalidArgument, "user.id"},
		{"CreateGroup parent -1", func() error {
			return ok(cl.CreateGroup(svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "x", ParentId: -1}}))
		}, ia, reasonInvalidArgument, "group.parent_id"},
		{"UpdateGroup parent -1", func() error {
			return ok(cl.UpdateGroup(svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: b, ParentId: -1}, UpdateMask: mask("parent_id")}))
		}, ia, reasonInvalidArgument, "group.parent_id"},
		{"GetGroup -1", func() error { return ok(cl.GetGroup(svc, &visibilityv1.GetGroupRequest{GroupId: -1})) }, ia, reasonInvalidArgument, "group_id"},
		{"SetUserGroup -1", func() error {
			return ok(cl.SetUserGroup(svc, &visibilityv1.SetUserGroupRequest{UserId: 10, GroupId: -1}))
		}, ia, reasonInvalidArgument, "group_id"},
		{"UpsertItem id -1", func() error { return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: deal, Id: -1}))) }, ia, reasonInvalidArgument, "item.id"},
		{"UpsertItem owner -1", func() error {
			return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: deal, Id: 5, OwnerId: -1})))
		}, ia, reasonInvalidArgument, "item.owner_id"},
		{"UpsertItem pipeline -1", func() error {
			return ok(cl.UpsertItem(svc, item(&visibilityv1.Item{Type: deal, Id: 5, PipelineId: -1})))
		}, ia, reasonInvalidArgument, "item.pipeline_id"},
		{"UpsertPipeline id -1", func() error {
			return ok(cl.UpsertPipeline(svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: -1}}))
		}, ia, reasonInvalidArgument, "pipeline.id"},
		{"DeletePipeline -1", func() error {
			return ok(cl.DeletePipeline(svc, &visibilityv1.DeletePipelineRequest{PipelineId: -1}))
		}, ia, reasonInvalidArgument, "pipeline_id"},
		{"UpdateGroupPipelines remove -1", func() error {
			return ok(cl.UpdateGroupPipelines(svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: a,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{-1}}}))
		}, ia, reasonInvalidArgument, "visible_pipeline_ids.remove"},
		{"UpdateGroupPipelines add and remove the same", func() error {
			return ok(cl.UpdateGroupPipelines(svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: a,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{2}, Remove: []int64{2}}}))
		}, ia, reasonInvalidArgument, "visible_pipeline_ids"},
		{"ChangeItemOwner owner -1", func() error {
			return ok(cl.ChangeItemOwner(svc, &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, 1), OwnerId: -1}))
		}, ia, reasonInvalidArgument, "owner_id"},
		{"AddItemFollowers -1", func() error {
			return ok(cl.AddItemFollowers(svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, 1), UserIds: []int64{-1}}))
		}, ia, reasonInvalidArgument, "user_ids"},
		{"CheckAccess item -1", func() error {
			return ok(cl.CheckAccess(svc, &visibilityv1.CheckAccessRequest{UserId: 10, Item: ref(deal, -1)}))
		}, ia, reasonInvalidArgument, "item.id"},
		{"GetItem no item", func() error { return ok(cl.GetItem(svc, &visibilityv1.GetItemRequest{})) }, ia, reasonInvalidArgument, "item.id"},
		{"CheckAccess min_version -1", func() error {
			return ok(cl.CheckAccess(svc, &visibilityv1.CheckAccessRequest{UserId: 10, Item: ref(deal, 1), MinVersion: -1}))
		}, ia, reasonInvalidArgument, "min_version"},
		{"service decision without user", func() error {
			return ok(cl.CheckAccess(svc, &visibilityv1.CheckAccessRequest{Item: ref(deal, 1)}))
		}, ia, reasonInvalidArgument, "user_id"},
		{"service write without acting user", func() error {
			return ok(cl.UpsertItem(svc, &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: deal, Id: 5, OwnerId: 10}}))
		}, ia, errActingUser, "acting_user_id"},

		// A user deciding about someone else.
		{"CheckAccess about another user", func() error {
			return ok(cl.CheckAccess(u10, &visibilityv1.CheckAccessRequest{UserId: 11, Item: ref(deal, 1)}))
		}, pd, errSubjectNotCaller, ""},
		{"BatchCheckAccess about another user", func() error {
			return ok(cl.BatchCheckAccess(u10, &visibilityv1.BatchCheckAccessRequest{UserId: 11, Items: []*visibilityv1.ItemRef{ref(deal, 1)}}))
		}, pd, errSubjectNotCaller, ""},
		{"LookupAccessFilter about another user", func() error {
			return ok(cl.LookupAccessFilter(u10, &visibilityv1.LookupAccessFilterRequest{UserId: 11, ItemType: deal}))
		}, pd, errSubjectNotCaller, ""},
		{"ListAccessibleItems about another user", func() error {
			return ok(cl.ListAccessibleItems(u10, &visibilityv1.ListAccessibleItemsRequest{UserId: 11, ItemType: deal}))
		}, pd, errSubjectNotCaller, ""},
		{"ExplainAccess about another user", func() error {
			return ok(cl.ExplainAccess(u10, &visibilityv1.ExplainAccessRequest{UserId: 11, Item: ref(deal, 1)}))
		}, pd, errSubjectNotCaller, ""},
		{"ListPipelines about another user", func() error {
			return ok(cl.ListPipelines(u10, &visibilityv1.ListPipelinesRequest{UserId: 11}))
		}, pd, errSubjectNotCaller, ""},
		{"UpsertItem acting for another user", func() error {
			return ok(cl.UpsertItem(u11, &visibilityv1.UpsertItemRequest{ActingUserId: 10, Item: &visibilityv1.Item{Type: lead, Id: 9}}))
		}, pd, errSubjectNotCaller, ""},
		{"user manages without account settings", func() error {
			return ok(cl.SetUserGroup(u10, &visibilityv1.SetUserGroupRequest{UserId: 10, GroupId: gc}))
		}, pd, errAccountSettings, ""},
		{"user creates a company", func() error {
			return ok(cl.CreateCompany(one.as(12), &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ESSENTIAL}))
		}, pd, errServiceRequired, ""},
		{"user changes an item it cannot see", func() error {
			return ok(cl.ChangeItemOwner(one.as(12), &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, 1), OwnerId: 12}))
		}, nf, errItemNotFound, ""},
	}

	versions := func() [3]int64 {
		return [3]int64{one.company().GetVersion(), two.company().GetVersion(), three.company().GetVersion()}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, v := snapshotDB(t, conn), versions()
			err := tt.call()
			if tt.field != "" {
				wantErr(t, err, tt.code, tt.reason, tt.field)
			} else {
				wantErr(t, err, tt.code, tt.reason)
			}
			if after := snapshotDB(t, conn); after != before {
				t.Fatalf("the refused call changed the database:\nbefore\n%s\nafter\n%s", before, after)
			}
			if got := versions(); got != v {
				t.Fatalf("company versions moved from %v to %v", v, got)
			}
		})
	}
}
