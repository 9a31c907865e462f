package visibility_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// Rules V1–V4: groups, membership, the forest, plans.

func TestV1_NewUserStartsInDefaultGroup(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	sales := c.group("Sales", 0, nil)

	// group_id in the request is ignored: new users start in the default group.
	resp := servicetest.Try(e.client.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 7, Active: true, GroupId: sales}})).Must(t)
	if !resp.GetCreated() || resp.GetUser().GetGroupId() != c.def {
		t.Fatalf("UpsertUser = %v, want created in default group %d", resp, c.def)
	}
	if g := c.getUser(7).GetGroupId(); g != c.def {
		t.Fatalf("GetUser group = %d, want default group %d", g, c.def)
	}
	users := servicetest.Try(e.client.ListUsers(c.svc, &visibilityv1.ListUsersRequest{GroupId: c.def})).Must(t).GetUsers()
	if len(users) != 1 || users[0].GetId() != 7 {
		t.Fatalf("ListUsers(default group) = %v, want user 7", users)
	}
	if n := c.getGroup(c.def).GetMemberCount(); n != 1 {
		t.Fatalf("default group member_count = %d, want 1", n)
	}

	// Updating an existing user never changes its membership.
	c.setGroup(7, sales)
	resp = servicetest.Try(e.client.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 7, Name: "renamed", Active: true, GroupId: c.def}})).Must(t)
	if resp.GetCreated() || resp.GetUser().GetGroupId() != sales || c.getUser(7).GetGroupId() != sales {
		t.Fatalf("re-upsert moved the user: %v", resp)
	}
}

func TestV1_RemoveFromGroupReturnsToDefaultGroup(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	sales := c.group("Sales", 0, nil)
	other := c.group("Other", 0, nil)
	c.user(1, sales, perms{})
	c.user(2, sales, perms{change: true})
	c.user(3, other, perms{change: true})
	c.item(2, &visibilityv1.Item{Type: person, Id: 1, VisibleTo: vtGroup})
	c.item(3, &visibilityv1.Item{Type: person, Id: 2, VisibleTo: vtSubgroups})
	c.wantAccess(1, person, 1, 0, true, rOwnerGroup)

	r := servicetest.Try(e.client.RemoveUserFromGroup(c.svc, &visibilityv1.RemoveUserFromGroupRequest{UserId: 1})).Must(t)
	if r.GetUser().GetGroupId() != c.def || c.getUser(1).GetGroupId() != c.def {
		t.Fatalf("RemoveUserFromGroup = %v, want default group %d", r.GetUser(), c.def)
	}
	if n := c.getGroup(sales).GetMemberCount(); n != 1 {
		t.Fatalf("Sales member_count = %d, want 1", n)
	}
	// Landing in the default group grants no view of anyone's items (V1).
	c.wantAccess(1, person, 1, r.GetVersion(), false, rNotVisible)
	c.wantAccess(1, person, 2, r.GetVersion(), false, rNotVisible)

	// Removing a user already in the default group changes nothing.
	v := c.company().GetVersion()
	r = servicetest.Try(e.client.RemoveUserFromGroup(c.svc, &visibilityv1.RemoveUserFromGroupRequest{UserId: 1})).Must(t)
	if r.GetUser().GetGroupId() != c.def || r.GetVersion() != v {
		t.Fatalf("second RemoveUserFromGroup = %v (version %d), want no change at version %d", r.GetUser(), r.GetVersion(), v)
	}
}

func TestV1_MoveGroupUnderItsDescendantIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	a := c.group("A", 0, nil)
	b := c.group("B", a, nil)
	cc := c.group("C", b, nil)
	d := c.group("D", cc, nil)
	tests := []struct {
		name      string
		g, parent int64
	}{
		{"itself", a, a},
		{"child", a, b},
		{"grandchild", a, cc},
		{"great-grandchild", a, d},
		{"middle under its child", b, cc},
		{"leaf under itself", d, d},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.with(t)
			before := c.company().GetVersion()
			_, err := e.client.UpdateGroup(c.svc, &visibilityv1.UpdateGroupRequest{
				Group:      &visibilityv1.Group{Id: tt.g, ParentId: tt.parent},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"parent_id"}}})
			wantErr(t, err, codes.FailedPrecondition, errGroupCycle)
			for g, parent := range map[int64]int64{a: 0, b: a, cc: b, d: cc} {
				if got := c.getGroup(g).GetParentId(); got != parent {
					t.Fatalf("group %d parent = %d after refused move, want %d", g, got, parent)
				}
			}
			if v := c.company().GetVersion(); v != before {
				t.Fatalf("version moved from %d to %d", before, v)
			}
		})
	}
	// Moving down the tree the other way is fine: D to top level, then A under D.
	c.moveGroup(d, 0)
	c.moveGroup(a, d)
	if got := c.getGroup(a).GetParentId(); got != d {
		t.Fatalf("A parent = %d, want %d", got, d)
	}
}

func TestV1_DeleteGroupWithMembersIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	withMember := c.group("members", 0, nil)
	withSub := c.group("parent", 0, nil)
	c.group("sub", withSub, nil)
	empty := c.group("empty", 0, nil)
	c.user(1, withMember, perms{})

	for _, g := range []int64{withMember, withSub} {
		before := c.company().GetVersion()
		_, err := e.client.DeleteGroup(c.svc, &visibilityv1.DeleteGroupRequest{GroupId: g})
		wantErr(t, err, codes.FailedPrecondition, errGroupNotEmpty)
		c.getGroup(g) // still there
		if v := c.company().GetVersion(); v != before {
			t.Fatalf("version moved from %d to %d", before, v)
		}
	}
	if c.getUser(1).GetGroupId() != withMember {
		t.Fatal("the member was moved by a refused delete")
	}
	r := servicetest.Try(e.client.DeleteGroup(c.svc, &visibilityv1.DeleteGroupRequest{GroupId: empty})).Must(t)
	if r.GetMovedMembers() != 0 || r.GetMovedSubgroups() != 0 {
		t.Fatalf("DeleteGroup(empty) = %v", r)
	}
	_, err := e.client.GetGroup(c.svc, &visibilityv1.GetGroupRequest{GroupId: empty})
	wantErr(t, err, codes.NotFound, errGroupNotFound)
}

func TestV1_DeleteGroupMovesMembersToDefaultAndSubgroupsToParent(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	top := c.group("top", 0, nil)
	mid := c.group("mid", top, nil)
	s1 := c.group("s1", mid, nil)
	s2 := c.group("s2", mid, nil)
	c.pipeline(1)
	c.pipeline(2)
	c.hide(mid, 1)
	c.user(1, top, perms{})
	c.user(2, mid, perms{change: true})
	c.user(3, mid, perms{})
	c.user(4, s1, perms{change: true})
	c.item(2, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtOwner})
	c.item(4, &visibilityv1.Item{Type: deal, Id: 2, VisibleTo: vtOwner})
	c.wantAccess(1, deal, 1, 0, true, rAncestor)

	r := servicetest.Try(e.client.DeleteGroup(c.svc, &visibilityv1.DeleteGroupRequest{GroupId: mid, MoveMembersAndSubgroups: true})).Must(t)
	if r.GetMovedMembers() != 2 || r.GetMovedSubgroups() != 2 {
		t.Fatalf("DeleteGroup = %v, want 2 members and 2 subgroups moved", r)
	}
	for _, u := range []int64{2, 3} {
		if g := c.getUser(u).GetGroupId(); g != c.def {
			t.Fatalf("user %d in group %d, want default group %d", u, g, c.def)
		}
	}
	for _, g := range []int64{s1, s2} {
		if p := c.getGroup(g).GetParentId(); p != top {
			t.Fatalf("group %d parent = %d, want %d (the deleted group's parent)", g, p, top)
		}
	}
	if g := c.getUser(4).GetGroupId(); g != s1 {
		t.Fatalf("user 4 moved to %d", g)
	}
	_, err := e.client.GetGroup(c.svc, &visibilityv1.GetGroupRequest{GroupId: mid})
	wantErr(t, err, codes.NotFound, errGroupNotFound)
	// Decisions follow at once: top no longer sees user 2's item, still sees user 4's.
	c.wantAccess(1, deal, 1, r.GetVersion(), false, rNotVisible)
	c.wantAccess(1, deal, 2, r.GetVersion(), true, rAncestor)

	// A top-level group's subgroups become top-level.
	r = servicetest.Try(e.client.DeleteGroup(c.svc, &visibilityv1.DeleteGroupRequest{GroupId: top, MoveMembersAndSubgroups: true})).Must(t)
	if r.GetMovedMembers() != 1 || r.GetMovedSubgroups() != 2 || c.getGroup(s1).GetParentId() != 0 {
		t.Fatalf("DeleteGroup(top) = %v; s1 parent %d", r, c.getGroup(s1).GetParentId())
	}
	c.wantAccess(1, deal, 2, r.GetVersion(), false, rNotVisible)
}

func TestV1_DefaultGroupCannotBeDeletedOrMoved(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	g := c.group("G", 0, nil)
	before := c.company().GetVersion()
	for _, move := range []bool{false, true} {
		_, err := e.client.DeleteGroup(c.svc, &visibilityv1.DeleteGroupRequest{GroupId: c.def, MoveMembersAndSubgroups: move})
		wantErr(t, err, codes.FailedPrecondition, errDefaultImmutable)
	}
	_, err := e.client.UpdateGroup(c.svc, &visibilityv1.UpdateGroupRequest{
		Group: &visibilityv1.Group{Id: c.def, ParentId: g}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"parent_id"}}})
	wantErr(t, err, codes.FailedPrecondition, errDefaultImmutable)
	dg := c.getGroup(c.def)
	if !dg.GetIsDefault() || dg.GetParentId() != 0 {
		t.Fatalf("default group = %v", dg)
	}
	if v := c.company().GetVersion(); v != before {
		t.Fatalf("version moved from %d to %d", before, v)
	}
	// The default group may still be renamed.
	servicetest.Try(e.client.UpdateGroup(c.svc, &visibilityv1.UpdateGroupRequest{
		Group: &visibilityv1.Group{Id: c.def, Name: "Everyone"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})).Must(t)
	if n := c.getGroup(c.def).GetName(); n != "Everyone" {
		t.Fatalf("name = %q", n)
	}
}

func TestV2_GrandparentGroupSeesOwnerOnlyItem(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	a := c.group("A", 0, nil)
	b := c.group("B", a, nil)
	gc := c.group("C", b, nil)
	d := c.group("D", gc, nil)
	x := c.group("X", 0, nil)
	// Users 1..4 in A..D, 5 in unrelated X, 6 in the default group, 7 a second member of D.
	for i, g := range []int64{a, b, gc, d, x, 0, d} {
		c.user(int64(i+1), g, perms{change: true})
	}
	c.item(4, &visibilityv1.Item{Type: lead, Id: 1, VisibleTo: vtOwner})     // owned in D, owner only
	c.item(1, &visibilityv1.Item{Type: lead, Id: 2, VisibleTo: vtSubgroups}) // owned in A, lower groups
	c.item(2, &visibilityv1.Item{Type: lead, Id: 3, VisibleTo: vtGroup})     // owned in B, same group only
	tests := []struct {
		user    int64
		id      int64
		allowed bool
		reason  visibilityv1.DecisionReason
	}{
		{1, 1, true, rAncestor}, // great-grandparent
		{2, 1, true, rAncestor}, // grandparent
		{3, 1, true, rAncestor}, // parent
		{4, 1, true, rOwner},
		{7, 1, false, rNotVisible}, // same group, visible_to OWNER
		{5, 1, false, rNotVisible},
		{6, 1, false, rNotVisible},
		{4, 2, true, rSubgroup}, // "lower" means any descendant
		{3, 2, true, rSubgroup},
		{5, 2, false, rNotVisible},
		{6, 2, false, rNotVisible},
		{1, 3, true, rAncestor},
		{3, 3, false, rNotVisible}, // a lower group does not see OWNER_GROUP
		{4, 3, false, rNotVisible},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("user%d_lead%d", tt.user, tt.id), func(t *testing.T) {
			c.with(t).wantAccess(tt.user, lead, tt.id, 0, tt.allowed, tt.reason)
		})
	}
}

func TestV3_EachVisibleToSeesAtLeastTheLevelBelow(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	top := c.group("top", 0, nil)
	mid := c.group("mid", top, nil)
	low := c.group("low", mid, nil)
	other := c.group("other", 0, nil)
	// 1 owner (mid), 2 mid, 3 top, 4 low, 5 other, 6 default, 7 follower in other.
	for i, g := range []int64{mid, mid, top, low, other, 0, other} {
		c.user(int64(i+1), g, perms{change: i == 0})
	}
	want := map[visibilityv1.VisibleTo][]int64{
		vtOwner:     {1, 3, 7},
		vtGroup:     {1, 2, 3, 7},
		vtSubgroups: {1, 2, 3, 4, 7},
		vtCompany:   {1, 2, 3, 4, 5, 6, 7},
	}
	for i, vt := range []visibilityv1.VisibleTo{vtOwner, vtGroup, vtSubgroups, vtCompany} {
		id := int64(i + 1)
		c.item(1, &visibilityv1.Item{Type: org, Id: id, VisibleTo: vt})
		servicetest.Try(e.client.AddItemFollowers(c.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(org, id), UserIds: []int64{7}})).Must(t)
		if got := c.viewers(org, id); fmt.Sprint(got) != fmt.Sprint(want[vt]) {
			t.Errorf("visible_to %v: viewers %v, want %v", vt, got, want[vt])
		}
	}
}

func TestV3_MovingOwnerBetweenGroupsChangesViewersAtOnce(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	x := c.group("X", 0, nil)
	y := c.group("Y", 0, nil)
	yParent := c.group("Y parent", 0, nil)
	c.moveGroup(y, yParent)
	c.user(1, x, perms{}) // the owner
	c.user(2, x, perms{})
	c.user(3, y, perms{})
	c.user(4, yParent, perms{})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 10, VisibleTo: vtGroup})
	c.wantAccess(2, deal, 10, 0, true, rOwnerGroup)
	c.wantAccess(3, deal, 10, 0, false, rNotVisible)
	c.wantAccess(4, deal, 10, 0, false, rNotVisible)

	v := c.setGroup(1, y).GetVersion()
	// Without min_version (this replica refreshed on its own write) and with it.
	for _, min := range []int64{0, v} {
		c.wantAccess(2, deal, 10, min, false, rNotVisible)
		c.wantAccess(3, deal, 10, min, true, rOwnerGroup)
		c.wantAccess(4, deal, 10, min, true, rAncestor)
	}
	// The user principals' own view agrees.
	r := servicetest.Try(e.client.CheckAccess(c.as(3), &visibilityv1.CheckAccessRequest{Item: ref(deal, 10)})).Must(t)
	if !r.GetAllowed() || r.GetVersion() < v {
		t.Fatalf("user 3 CheckAccess = %v", r)
	}
	if got := c.viewers(deal, 10); fmt.Sprint(got) != "[1 3 4]" {
		t.Fatalf("viewers = %v, want [1 3 4]", got)
	}
}

func TestV3_MovingGroupChangesViewersAtOnce(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	a := c.group("A", 0, nil)
	b := c.group("B", 0, nil)
	bc := c.group("B child", b, nil)
	c.user(1, a, perms{})
	c.user(2, bc, perms{change: true}) // the owner
	c.item(2, &visibilityv1.Item{Type: product, Id: 5, VisibleTo: vtOwner})
	c.wantAccess(1, product, 5, 0, false, rNotVisible)

	v := c.moveGroup(b, a) // A is now a grandparent of the owner's group
	c.wantAccess(1, product, 5, v, true, rAncestor)
	c.wantAccess(1, product, 5, 0, true, rAncestor)
	v = c.moveGroup(b, 0)
	c.wantAccess(1, product, 5, v, false, rNotVisible)
	v = c.moveGroup(a, bc) // now A is below the owner's group: OWNER does not reach down
	c.wantAccess(1, product, 5, v, false, rNotVisible)
}

func TestV4_GroupLimitIsResourceExhaustedWithQuotaFailure(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	tests := []struct {
		plan  visibilityv1.Plan
		limit int
	}{
		{visibilityv1.Plan_PLAN_ESSENTIAL, 0},
		{visibilityv1.Plan_PLAN_ADVANCED, 0},
		{visibilityv1.Plan_PLAN_PROFESSIONAL, 3},
		{visibilityv1.Plan_PLAN_POWER, 15},
	}
	for i, tt := range tests {
		t.Run(tt.plan.String(), func(t *testing.T) {
			c := newCo(t, e, int64(i+1), tt.plan)
			if got := c.company().GetCustomGroupLimit(); got != int32(tt.limit) {
				t.Fatalf("custom_group_limit = %d, want %d", got, tt.limit)
			}
			// Essential and advanced groups may only use OWNER and ENTIRE_COMPANY defaults.
			dv := &visibilityv1.DefaultVisibility{Deal: vtOwner, Lead: vtOwner, Person: vtOwner, Organization: vtOwner, Product: vtOwner}
			for n := range tt.limit {
				c.group(fmt.Sprint("g", n), 0, dv)
			}
			overLimit := func(extra int) {
				t.Helper()
				before := snapshotDB(t, conn)
				_, err := e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "one too many", DefaultVisibility: dv}})
				st := wantErr(t, err, codes.ResourceExhausted, errGroupLimit)
				q := quotaFailure(st)
				if q == nil || len(q.GetViolations()) == 0 || q.GetViolations()[0].GetSubject() == "" {
					t.Fatalf("no QuotaFailure in %v", st.Details())
				}
				if after := snapshotDB(t, conn); after != before {
					t.Fatalf("a refused CreateGroup changed the database:\nbefore\n%s\nafter\n%s", before, after)
				}
				co := c.company()
				if co.GetCustomGroupCount() != int32(tt.limit+extra) {
					t.Fatalf("custom_group_count = %d, want %d", co.GetCustomGroupCount(), tt.limit+extra)
				}
			}
			overLimit(0)
			// Extra groups raise the limit by exactly that many.
			u := servicetest.Try(e.client.UpdateCompany(c.svc, &visibilityv1.UpdateCompanyRequest{
				Company: &visibilityv1.Company{ExtraGroups: 2}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"extra_groups"}}})).Must(t)
			if u.GetCompany().GetCustomGroupLimit() != int32(tt.limit+2) || u.GetCompany().GetPlan() != tt.plan {
				t.Fatalf("UpdateCompany = %v", u.GetCompany())
			}
			c.group("extra 1", 0, dv)
			c.group("extra 2", 0, dv)
			overLimit(2)
		})
	}
	t.Run("PLAN_ENTERPRISE", func(t *testing.T) {
		c := newCo(t, e, 9, visibilityv1.Plan_PLAN_ENTERPRISE)
		if got := c.company().GetCustomGroupLimit(); got != -1 {
			t.Fatalf("custom_group_limit = %d, want -1 (unlimited)", got)
		}
		for n := range 20 {
			c.group(fmt.Sprint("g", n), 0, nil)
		}
	})
}

func TestV4_DowngradeKeepsGroups(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	var groups []int64
	parent := int64(0)
	for n := range 5 {
		parent = c.group(fmt.Sprint("level ", n), parent, nil)
		groups = append(groups, parent)
	}
	c.user(1, groups[0], perms{})
	c.user(2, groups[4], perms{change: true})
	c.item(2, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtOwner})
	countGroups := func() int {
		n := 0
		var walk func([]*visibilityv1.GroupNode)
		walk = func(ns []*visibilityv1.GroupNode) {
			for _, x := range ns {
				n++
				walk(x.GetChildren())
			}
		}
		walk(servicetest.Try(e.client.ListGroups(c.svc, &visibilityv1.ListGroupsRequest{})).Must(t).GetRoots())
		return n
	}
	for _, plan := range []visibilityv1.Plan{visibilityv1.Plan_PLAN_PROFESSIONAL, visibilityv1.Plan_PLAN_ESSENTIAL} {
		u := servicetest.Try(e.client.UpdateCompany(c.svc, &visibilityv1.UpdateCompanyRequest{
			Company: &visibilityv1.Company{Plan: plan}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"plan"}}})).Must(t)
		if u.GetCompany().GetPlan() != plan || u.GetCompany().GetCustomGroupCount() != 5 {
			t.Fatalf("after downgrade to %v: %v", plan, u.GetCompany())
		}
		if n := countGroups(); n != 6 {
			t.Fatalf("after downgrade to %v: %d groups, want 6", plan, n)
		}
		if c.getUser(2).GetGroupId() != groups[4] {
			t.Fatal("a downgrade moved a user")
		}
		c.wantAccess(1, deal, 1, u.GetVersion(), true, rAncestor)
		_, err := e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "more",
			DefaultVisibility: &visibilityv1.DefaultVisibility{Deal: vtOwner, Lead: vtOwner, Person: vtOwner, Organization: vtOwner, Product: vtOwner}}})
		wantErr(t, err, codes.ResourceExhausted, errGroupLimit)
	}
	// On essential, the groups keep their OWNER_GROUP defaults, which the plan no
	// longer offers: a new item without visible_to gets the most private value,
	// and asking for 3 explicitly is refused.
	if got := c.item(2, &visibilityv1.Item{Type: deal, Id: 2}).GetItem().GetVisibleTo(); got != vtOwner {
		t.Fatalf("new item on essential in a group with default OWNER_GROUP: visible_to %v, want OWNER", got)
	}
	c.item(2, &visibilityv1.Item{Type: deal, Id: 3, VisibleTo: vtCompany})
	_, err := e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: 2, Item: &visibilityv1.Item{Type: deal, Id: 3, VisibleTo: vtGroup}})
	wantErr(t, err, codes.FailedPrecondition, errNotInPlan)
	// Groups left over from the richer plan can still be deleted.
	servicetest.Try(e.client.DeleteGroup(c.svc, &visibilityv1.DeleteGroupRequest{GroupId: groups[2], MoveMembersAndSubgroups: true})).Must(t)
	if n := countGroups(); n != 5 {
		t.Fatalf("%d groups after delete, want 5", n)
	}
}

func TestV4_EssentialPlanRefusesOwnerGroupVisibility(t *testing.T) {
	t.Parallel()
	e := start(t)
	conn := connect(t, e.dbURL)
	for i, plan := range []visibilityv1.Plan{visibilityv1.Plan_PLAN_ESSENTIAL, visibilityv1.Plan_PLAN_ADVANCED} {
		t.Run(plan.String(), func(t *testing.T) {
			c := newCo(t, e, int64(i+1), plan)
			c.user(1, 0, perms{change: true})
			for _, vt := range []visibilityv1.VisibleTo{vtGroup, vtSubgroups} {
				before := snapshotDB(t, conn)
				_, err := e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: 1, Item: &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vt}})
				wantErr(t, err, codes.FailedPrecondition, errNotInPlan)
				_, err = e.client.UpsertItem(c.as(1), &visibilityv1.UpsertItemRequest{Item: &visibilityv1.Item{Type: person, Id: 1, VisibleTo: vt}})
				wantErr(t, err, codes.FailedPrecondition, errNotInPlan)
				_, err = e.client.UpdateGroup(c.svc, &visibilityv1.UpdateGroupRequest{
					Group:      &visibilityv1.Group{Id: c.def, DefaultVisibility: &visibilityv1.DefaultVisibility{Lead: vt}},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"default_visibility"}}})
				wantErr(t, err, codes.FailedPrecondition, errNotInPlan)
				if after := snapshotDB(t, conn); after != before {
					t.Fatalf("refused writes changed the database:\nbefore\n%s\nafter\n%s", before, after)
				}
			}
			for id, vt := range map[int64]visibilityv1.VisibleTo{2: vtOwner, 3: vtCompany} {
				if got := c.item(1, &visibilityv1.Item{Type: deal, Id: id, VisibleTo: vt}).GetItem().GetVisibleTo(); got != vt {
					t.Fatalf("visible_to = %v, want %v", got, vt)
				}
			}
			// The default group's default is ENTIRE_COMPANY, which the plan offers.
			if got := c.item(1, &visibilityv1.Item{Type: lead, Id: 1}).GetItem().GetVisibleTo(); got != vtCompany {
				t.Fatalf("default visible_to = %v, want ENTIRE_COMPANY", got)
			}
		})
	}
}

// TestV1_ConcurrentMovesNeverMakeACycle races moves that would each be fine
// alone but make a cycle together: one of each pair must be refused.
func TestV1_ConcurrentMovesNeverMakeACycle(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	for round := range 10 {
		a := c.group(fmt.Sprint("a", round), 0, nil)
		b := c.group(fmt.Sprint("b", round), 0, nil)
		errs := make(chan error, 2)
		for _, m := range [][2]int64{{a, b}, {b, a}} {
			go func() {
				_, err := e.client.UpdateGroup(c.svc, &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: m[0], ParentId: m[1]},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"parent_id"}}})
				errs <- err
			}()
		}
		refused := 0
		for range 2 {
			if err := <-errs; err != nil {
				wantErr(t, err, codes.FailedPrecondition, errGroupCycle)
				refused++
			}
		}
		pa, pb := c.getGroup(a).GetParentId(), c.getGroup(b).GetParentId()
		if refused != 1 || (pa == b) == (pb == a) {
			t.Fatalf("round %d: %d refused; a's parent %d, b's parent %d", round, refused, pa, pb)
		}
	}
	// The service still decides (its snapshot builds), so the forest is intact.
	c.user(1, 0, perms{})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 1})
	c.wantAccess(1, deal, 1, 0, true, rOwner)
}

// TestV4_ConcurrentCreatesRespectTheLimit races creations past the limit.
func TestV4_ConcurrentCreatesRespectTheLimit(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_PROFESSIONAL)
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := e.client.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: fmt.Sprint("g", i)}})
			errs <- err
		}()
	}
	created := 0
	for range n {
		if err := <-errs; err == nil {
			created++
		} else {
			wantErr(t, err, codes.ResourceExhausted, errGroupLimit)
		}
	}
	if co := c.company(); created != 3 || co.GetCustomGroupCount() != 3 {
		t.Fatalf("%d created, custom_group_count %d; want 3", created, co.GetCustomGroupCount())
	}
}
