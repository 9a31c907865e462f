package visibility_test

import (
	"testing"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

func TestSmoke(t *testing.T) {
	e := start(t)
	svc := e.Service(t, 1)
	c, err := e.client.CreateCompany(svc, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("company %v", c)
	for _, id := range []int64{1, 2} {
		if _, err := e.client.UpsertUser(svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: id, Active: true}}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := e.client.CreateGroup(svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "Sales"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.SetUserGroup(svc, &visibilityv1.SetUserGroupRequest{UserId: 1, GroupId: g.Group.Id}); err != nil {
		t.Fatal(err)
	}
	it, err := e.client.UpsertItem(svc, &visibilityv1.UpsertItemRequest{ActingUserId: 1,
		Item: &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: 10}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("item %v", it)
	for _, u := range []int64{1, 2} {
		r, err := e.client.CheckAccess(svc, &visibilityv1.CheckAccessRequest{UserId: u, MinVersion: it.Version,
			Item: &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: 10}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("user %d: %v", u, r)
		x, err := e.client.ExplainAccess(svc, &visibilityv1.ExplainAccessRequest{UserId: u,
			Item: &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: 10}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("explain %d: %v", u, x.Facts)
	}
	lg, err := e.client.ListGroups(svc, &visibilityv1.ListGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("groups %v", lg)
}
