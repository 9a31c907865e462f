package policytest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// The reference model is checked here against hand-derived answers, without
// the engine, so that the engine and the model cannot share a mistake
// unnoticed.
//
//	1 (default): 1         2: 2 ⊃ 3: 3, 4 (inactive) ⊃ 5: 5        6: 6 (deal admin); pipeline 9 hidden for 3
func tinyCompany() policy.Company {
	return policy.Company{
		Groups: []policy.Group{{ID: 1, Default: true}, {ID: 2}, {ID: 3, Parent: 2}, {ID: 5, Parent: 3}, {ID: 6}},
		Users: []policy.User{
			{ID: 1, Group: 1, Active: true}, {ID: 2, Group: 2, Active: true}, {ID: 3, Group: 3, Active: true},
			{ID: 4, Group: 3}, {ID: 5, Group: 5, Active: true},
			{ID: 6, Group: 6, Active: true, Perms: policy.Permissions{DealAdmin: true}},
		},
		Hidden: map[policy.GroupID][]policy.PipelineID{3: {9}},
	}
}

func TestReferenceDecide(t *testing.T) {
	c := tinyCompany()
	person := func(owner policy.UserID, vt policy.VisibleTo, followers ...policy.UserID) policy.Item {
		return policy.Item{Type: policy.ItemTypePerson, Owner: owner, VisibleTo: vt, Followers: followers}
	}
	deal := func(owner policy.UserID, pipeline policy.PipelineID) policy.Item {
		return policy.Item{Type: policy.ItemTypeDeal, Owner: owner, VisibleTo: policy.VisibleToEntireCompany, Pipeline: pipeline}
	}
	tests := []struct {
		name   string
		viewer policy.UserID
		it     policy.Item
		want   policy.Reason
	}{
		{"unknown viewer", 77, person(5, 7), policy.DenyUnknownUser},
		{"inactive viewer", 4, person(4, 7), policy.DenyInactiveUser},
		{"owner", 5, person(5, 1), policy.AllowOwner},
		{"follower", 1, person(5, 1, 1, 6), policy.AllowFollower},
		{"grandparent", 2, person(5, 1), policy.AllowAncestorGroup},
		{"parent", 3, person(5, 1), policy.AllowAncestorGroup},
		{"same group at 3", 3, person(4, 3), policy.AllowOwnerGroup},
		{"same group at 1", 3, person(4, 1), policy.DenyNotVisible},
		{"child at 5", 5, person(3, 5), policy.AllowSubgroup},
		{"grandchild at 5", 5, person(2, 5), policy.AllowSubgroup},
		{"child at 3", 5, person(3, 3), policy.DenyNotVisible},
		{"default group at 5", 1, person(2, 5), policy.DenyNotVisible},
		{"default group at 7", 1, person(2, 7), policy.AllowEntireCompany},
		{"unknown owner at 5", 2, person(77, 5), policy.DenyNotVisible},
		{"hidden pipeline, owner", 3, deal(3, 9), policy.DenyPipelineHidden},
		{"hidden pipeline, not inherited", 5, deal(5, 9), policy.AllowOwner},
		{"deal admin", 6, deal(3, 9), policy.AllowDealAdmin},
		{"deal admin, person", 6, person(3, 1), policy.DenyNotVisible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReferenceDecide(c, tt.viewer, tt.it)
			if got.Reason != tt.want || got.Allowed != (tt.want <= policy.AllowGlobalAdmin) {
				t.Fatalf("ReferenceDecide = %+v, want reason %d", got, tt.want)
			}
		})
	}
	if got := ReferenceViewers(c, person(3, 1)); !slices.Equal(got, []policy.UserID{2, 3}) {
		t.Errorf("ReferenceViewers = %v, want [2 3]", got)
	}
	if got := ReferenceFilter(c, 3, policy.ItemTypeDeal); !slices.Equal(got.Owners[0], []policy.UserID{5}) ||
		!slices.Equal(got.Owners[1], []policy.UserID{3, 4, 5}) || !slices.Equal(got.Owners[2], []policy.UserID{2, 3, 4, 5}) ||
		!slices.Equal(got.HiddenPipelines, []policy.PipelineID{9}) {
		t.Errorf("ReferenceFilter = %+v", got)
	}
}

func TestRandomIsReproducible(t *testing.T) {
	gen := func() (policy.Company, []policy.Item) {
		r := rand.New(rand.NewPCG(9, 9))
		c := RandomCompany(r)
		return c, RandomItems(r, c, 50)
	}
	c1, i1 := gen()
	c2, i2 := gen()
	if !slices.Equal(c1.Users, c2.Users) || !slices.Equal(c1.Groups, c2.Groups) || len(i1) != len(i2) {
		t.Fatal("same seed, different company")
	}
	for i := range i1 {
		if i1[i].Owner != i2[i].Owner || !slices.Equal(i1[i].Followers, i2[i].Followers) {
			t.Fatal("same seed, different items")
		}
	}
	if err := ReferenceValidate(c1); err != nil {
		t.Fatal(err)
	}
}
