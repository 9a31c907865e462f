package policy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/policy/policytest"
)

var allVisibleTo = policy.AllVisibleTo()

// ---------------------------------------------------------------- V1

func TestV1_DefaultGroupGrantsNoAncestorView(t *testing.T) {
	s := fixture(t)
	for _, top := range []policy.GroupID{gSales, gSupport, gEmpty} {
		if s.IsAncestor(gDefault, top) {
			t.Errorf("IsAncestor(default, %d) = true", top)
		}
	}
	owners := []policy.UserID{uSales, uEU, uDE, uBerlin, uFR, uSupport}
	for _, owner := range owners {
		for _, vt := range allVisibleTo {
			t.Run(fmt.Sprintf("owner=%d/%v", owner, vt), func(t *testing.T) {
				want := denied(policy.DenyNotVisible)
				if vt == policy.VisibleToEntireCompany {
					want = allowed(policy.AllowEntireCompany)
				}
				check(t, s, uDefault, person(owner, vt), want)
			})
		}
	}
	t.Run("members of the default group see each other like any group", func(t *testing.T) {
		check(t, s, uDefault, person(uDefault2, policy.VisibleToOwner), denied(policy.DenyNotVisible))
		check(t, s, uDefault, person(uDefault2, policy.VisibleToOwnerGroup), allowed(policy.AllowOwnerGroup))
	})
	t.Run("landing in the default group loses the ancestor view", func(t *testing.T) {
		c := fixtureCompany()
		for i := range c.Users {
			if c.Users[i].ID == uSales {
				c.Users[i].Group = gDefault // removed from Sales (V1)
			}
		}
		s := mustBuild(t, c)
		check(t, fixture(t), uSales, person(uBerlin, policy.VisibleToOwner), allowed(policy.AllowAncestorGroup))
		check(t, s, uSales, person(uBerlin, policy.VisibleToOwner), denied(policy.DenyNotVisible))
	})
}

func TestV1_BuildRejectsCycle(t *testing.T) {
	base := func(extra ...policy.Group) policy.Company {
		return policy.Company{Groups: append([]policy.Group{{ID: 1, Default: true}, {ID: 2}}, extra...)}
	}
	tests := []struct {
		name    string
		company policy.Company
	}{
		{"self parent", base(policy.Group{ID: 3, Parent: 3})},
		{"two-cycle", base(policy.Group{ID: 3, Parent: 4}, policy.Group{ID: 4, Parent: 3})},
		{"three-cycle", base(policy.Group{ID: 3, Parent: 5}, policy.Group{ID: 4, Parent: 3}, policy.Group{ID: 5, Parent: 4})},
		{"tree hanging below a cycle", base(policy.Group{ID: 3, Parent: 4}, policy.Group{ID: 4, Parent: 3}, policy.Group{ID: 5, Parent: 3}, policy.Group{ID: 6, Parent: 5})},
		{"cycle next to a valid subtree", base(policy.Group{ID: 7, Parent: 2}, policy.Group{ID: 3, Parent: 4}, policy.Group{ID: 4, Parent: 3})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Build(tt.company)
			if !errors.Is(err, policy.ErrGroupCycle) {
				t.Fatalf("Build: err = %v, want ErrGroupCycle", err)
			}
			if policytest.ReferenceValidate(tt.company) == nil {
				t.Errorf("reference model accepts the company")
			}
		})
	}
}

func TestV1_MoveWouldCycle(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		g, newParent policy.GroupID
		want         bool
	}{
		{gEU, gEU, true},        // under itself
		{gEU, gDE, true},        // under its child
		{gEU, gBerlin, true},    // under its grandchild
		{gSales, gBerlin, true}, // under its great-grandchild
		{gDE, gFR, false},       // under its sibling
		{gBerlin, gSales, false},
		{gEU, gSupport, false},
		{gEU, 0, false},     // to top level
		{gEU, 12345, false}, // unknown parent: existence is the caller's check
		{gSupport, gDefault, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d under %d", tt.g, tt.newParent), func(t *testing.T) {
			if got := s.MoveWouldCycle(tt.g, tt.newParent); got != tt.want {
				t.Fatalf("MoveWouldCycle(%d, %d) = %v, want %v", tt.g, tt.newParent, got, tt.want)
			}
			// Doing the move must agree with Build.
			if tt.newParent == 12345 {
				return
			}
			c := fixtureCompany()
			for i := range c.Groups {
				if c.Groups[i].ID == tt.g {
					c.Groups[i].Parent = tt.newParent
				}
			}
			_, err := policy.Build(c)
			if gotCycle := errors.Is(err, policy.ErrGroupCycle); gotCycle != tt.want {
				t.Fatalf("Build after move: err = %v, want cycle=%v", err, tt.want)
			}
		})
	}
}

func TestV1_BuildRequiresOneDefaultTopLevelGroup(t *testing.T) {
	tests := []struct {
		name   string
		groups []policy.Group
		want   error
	}{
		{"no default group", []policy.Group{{ID: 1}, {ID: 2, Parent: 1}}, policy.ErrNoDefaultGroup},
		{"no groups at all", nil, policy.ErrNoDefaultGroup},
		{"two default groups", []policy.Group{{ID: 1, Default: true}, {ID: 2, Default: true}}, policy.ErrManyDefaultGroups},
		{"default group with a parent", []policy.Group{{ID: 1}, {ID: 2, Parent: 1, Default: true}}, policy.ErrDefaultGroupParent},
		{"one top-level default group", []policy.Group{{ID: 1, Default: true}, {ID: 2}, {ID: 3, Parent: 2}}, nil},
		{"the default group may have subgroups", []policy.Group{{ID: 1, Default: true}, {ID: 3, Parent: 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := policy.Company{Groups: tt.groups}
			s, err := policy.Build(c)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Build: err = %v, want %v", err, tt.want)
			}
			if (policytest.ReferenceValidate(c) == nil) != (tt.want == nil) {
				t.Errorf("reference model disagrees: %v", policytest.ReferenceValidate(c))
			}
			if err == nil && s.DefaultGroup() != 1 {
				t.Errorf("DefaultGroup() = %d, want 1", s.DefaultGroup())
			}
		})
	}
}

func TestBuildRejectsInvalidCompany(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*policy.Company)
		want   error
	}{
		{"parent does not exist", func(c *policy.Company) { c.Groups[1].Parent = 77 }, policy.ErrUnknownParent},
		{"duplicate group", func(c *policy.Company) { c.Groups = append(c.Groups, policy.Group{ID: gEU}) }, policy.ErrDuplicateGroup},
		{"group id 0", func(c *policy.Company) { c.Groups = append(c.Groups, policy.Group{ID: 0}) }, policy.ErrInvalidID},
		{"negative parent", func(c *policy.Company) { c.Groups[1].Parent = -1 }, policy.ErrInvalidID},
		{"duplicate user", func(c *policy.Company) { c.Users = append(c.Users, policy.User{ID: uEU, Group: gFR}) }, policy.ErrDuplicateUser},
		{"user id 0", func(c *policy.Company) { c.Users = append(c.Users, policy.User{ID: 0, Group: gFR}) }, policy.ErrInvalidID},
		{"user in a missing group", func(c *policy.Company) { c.Users[0].Group = 77 }, policy.ErrUnknownGroup},
		{"user in no group", func(c *policy.Company) { c.Users[0].Group = 0 }, policy.ErrUnknownGroup},
		{"pipelines hidden for a missing group", func(c *policy.Company) { c.Hidden[77] = []policy.PipelineID{1} }, policy.ErrUnknownGroup},
		{"pipeline id 0", func(c *policy.Company) { c.Hidden[gFR] = []policy.PipelineID{0} }, policy.ErrInvalidPipelineID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixtureCompany()
			tt.mutate(&c)
			if _, err := policy.Build(c); !errors.Is(err, tt.want) {
				t.Fatalf("Build: err = %v, want %v", err, tt.want)
			}
			if policytest.ReferenceValidate(c) == nil {
				t.Errorf("reference model accepts the company")
			}
		})
	}
}

func TestBuildHandlesDeepTrees(t *testing.T) {
	// A chain far deeper than any recursion would survive comfortably.
	const depth = 200_000
	c := policy.Company{Groups: []policy.Group{{ID: 1, Default: true}}}
	for i := 2; i <= depth+1; i++ {
		// Ids decrease going down, so id order is not tree order.
		c.Groups = append(c.Groups, policy.Group{ID: policy.GroupID(depth + 3 - i), Parent: policy.GroupID(depth + 4 - i)})
	}
	c.Groups[1].Parent = 0 // the root of the chain, id depth+1
	c.Users = []policy.User{{ID: 1, Group: policy.GroupID(depth + 1), Active: true}, {ID: 2, Group: 2, Active: true}}
	s := mustBuild(t, c)
	if !s.IsAncestor(policy.GroupID(depth+1), 2) || s.IsAncestor(2, policy.GroupID(depth+1)) {
		t.Fatalf("ancestor test wrong on a chain of %d", depth)
	}
	check(t, s, 1, person(2, policy.VisibleToOwner), allowed(policy.AllowAncestorGroup))
	check(t, s, 2, person(1, policy.VisibleToOwnerGroupAndSubgroups), allowed(policy.AllowSubgroup))
	if got := len(s.Descendants(policy.GroupID(depth + 1))); got != depth-1 {
		t.Fatalf("len(Descendants(root)) = %d, want %d", got, depth-1)
	}
}

// ---------------------------------------------------------------- V2

func TestV2_AnyAncestorSeesOwnerOnlyItems(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		name          string
		viewer, owner policy.UserID
	}{
		{"parent", uDE, uBerlin},
		{"grandparent", uEU, uBerlin},
		{"great-grandparent", uSales, uBerlin},
		{"another member of the grandparent", uEU2, uBerlin},
		{"parent of a sibling branch", uEU, uFR},
	}
	for _, tt := range tests {
		for _, vt := range allVisibleTo {
			t.Run(fmt.Sprintf("%s/%v", tt.name, vt), func(t *testing.T) {
				check(t, s, tt.viewer, person(tt.owner, vt), allowed(policy.AllowAncestorGroup))
			})
		}
	}
	t.Run("descendants are not ancestors", func(t *testing.T) {
		check(t, s, uBerlin, person(uEU, policy.VisibleToOwner), denied(policy.DenyNotVisible))
		check(t, s, uBerlin, person(uSales, policy.VisibleToOwnerGroup), denied(policy.DenyNotVisible))
	})
}

func TestV2_SiblingGroupSeesNothing(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		name          string
		viewer, owner policy.UserID
	}{
		{"sibling", uFR, uDE},
		{"sibling, other way", uDE, uFR},
		{"nephew", uBerlin, uFR},
		{"other top-level tree", uSupport, uBerlin},
		{"other top-level tree, root to root", uSupport, uSales},
	}
	for _, tt := range tests {
		for _, vt := range allVisibleTo {
			t.Run(fmt.Sprintf("%s/%v", tt.name, vt), func(t *testing.T) {
				want := denied(policy.DenyNotVisible)
				if vt == policy.VisibleToEntireCompany {
					want = allowed(policy.AllowEntireCompany)
				}
				check(t, s, tt.viewer, person(tt.owner, vt), want)
			})
		}
	}
}

// ---------------------------------------------------------------- V3

func TestV3_OwnerSeesOwnItem(t *testing.T) {
	s := fixture(t)
	for _, owner := range []policy.UserID{uDefault, uSales, uBerlin, uSupport} {
		for _, vt := range allVisibleTo {
			for _, typ := range policy.AllItemTypes() {
				t.Run(fmt.Sprintf("%d/%v/%v", owner, vt, typ), func(t *testing.T) {
					it := &policy.Item{Type: typ, ID: 9, Owner: owner, VisibleTo: vt, Pipeline: 1}
					check(t, s, owner, it, allowed(policy.AllowOwner))
				})
			}
		}
	}
	t.Run("a deactivated owner does not", func(t *testing.T) {
		check(t, s, uInactive, person(uInactive, policy.VisibleToOwner), denied(policy.DenyInactiveUser))
	})
}

func TestV3_FollowerSeesItem(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		name      string
		viewer    policy.UserID
		followers []policy.UserID
		want      policy.Decision
	}{
		{"only follower", uSupport, []policy.UserID{uSupport}, allowed(policy.AllowFollower)},
		{"first of many", uDefault, []policy.UserID{uDefault, uFR, uSupport}, allowed(policy.AllowFollower)},
		{"last of many", uSupport, []policy.UserID{uDefault, uFR, uSupport}, allowed(policy.AllowFollower)},
		{"follower unknown to the company is ignored", uSupport, []policy.UserID{uSupport - 1, uNobody}, denied(policy.DenyNotVisible)},
		{"not a follower", uSupport, []policy.UserID{uDefault, uFR}, denied(policy.DenyNotVisible)},
		{"no followers", uSupport, nil, denied(policy.DenyNotVisible)},
		{"deactivated follower", uInactive, []policy.UserID{uInactive}, denied(policy.DenyInactiveUser)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, s, tt.viewer, person(uBerlin, policy.VisibleToOwner, tt.followers...), tt.want)
		})
	}
}

func TestV3_OwnerGroupSeesItem(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		vt   policy.VisibleTo
		want policy.Decision
	}{
		{policy.VisibleToOwner, denied(policy.DenyNotVisible)},
		{policy.VisibleToOwnerGroup, allowed(policy.AllowOwnerGroup)},
		{policy.VisibleToOwnerGroupAndSubgroups, allowed(policy.AllowOwnerGroup)},
		{policy.VisibleToEntireCompany, allowed(policy.AllowOwnerGroup)}, // rule 6b decides before 7
	}
	for _, tt := range tests {
		t.Run(tt.vt.String(), func(t *testing.T) {
			check(t, s, uEU2, person(uEU, tt.vt), tt.want)
			check(t, s, uDE2, person(uDE, tt.vt), tt.want)
		})
	}
}

func TestV3_SubgroupsSeeOwnerGroupAndSubgroupsItem(t *testing.T) {
	s := fixture(t)
	viewers := []struct {
		name   string
		viewer policy.UserID
	}{{"child", uDE}, {"other child", uFR}, {"grandchild", uBerlin}}
	tests := []struct {
		vt   policy.VisibleTo
		want policy.Decision
	}{
		{policy.VisibleToOwner, denied(policy.DenyNotVisible)},
		{policy.VisibleToOwnerGroup, denied(policy.DenyNotVisible)},
		{policy.VisibleToOwnerGroupAndSubgroups, allowed(policy.AllowSubgroup)},
		{policy.VisibleToEntireCompany, allowed(policy.AllowSubgroup)},
	}
	for _, v := range viewers {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.vt.String(), func(t *testing.T) {
				check(t, s, v.viewer, person(uEU, tt.vt), tt.want)
			})
		}
	}
	t.Run("5 reaches higher groups too (ancestors see at every value)", func(t *testing.T) {
		check(t, s, uSales, person(uEU, policy.VisibleToOwnerGroupAndSubgroups), allowed(policy.AllowAncestorGroup))
	})
}

func TestV3_EntireCompany(t *testing.T) {
	s := fixture(t)
	for _, owner := range []policy.UserID{uBerlin, uSupport, uDefault, uInactive, uNobody} {
		for _, u := range s.Users() {
			t.Run(fmt.Sprintf("owner=%d/viewer=%d", owner, u.ID), func(t *testing.T) {
				d := s.Decide(u.ID, person(owner, policy.VisibleToEntireCompany))
				if d.Allowed != u.Active {
					t.Fatalf("Decide = %v; viewer active = %v", d, u.Active)
				}
			})
		}
	}
	check(t, s, uSupport, person(uNobody, policy.VisibleToEntireCompany), allowed(policy.AllowEntireCompany))
	check(t, s, uSupport, person(uBerlin, policy.VisibleToEntireCompany), allowed(policy.AllowEntireCompany))
	check(t, s, uNobody, person(uBerlin, policy.VisibleToEntireCompany), denied(policy.DenyUnknownUser))
}

func TestV3_ValuesAreMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for range 100 {
		c := policytest.RandomCompany(r)
		s := mustBuild(t, c)
		for _, it := range policytest.RandomItems(r, c, 50) {
			var prev []policy.UserID
			for i, vt := range allVisibleTo {
				it.VisibleTo = vt
				viewers := s.Viewers(&it)
				for _, u := range prev {
					if _, ok := slices.BinarySearch(viewers, u); !ok {
						t.Fatalf("user %d sees %+v at %v but not at %v", u, it, allVisibleTo[i-1], vt)
					}
				}
				prev = viewers
			}
		}
	}
}

func TestV3_MovingOwnerChangesViewersAtOnce(t *testing.T) {
	before := fixture(t)
	c := before.Company()
	for i := range c.Users {
		if c.Users[i].ID == uDE {
			c.Users[i].Group = gSupport
		}
	}
	after := mustBuild(t, c)
	it := person(uDE, policy.VisibleToOwnerGroup)
	admins := []policy.UserID{uAppAdm, uGlobalAdmin, uDEAppAdmin, uDEGlobalAdmin} // see every person anyway
	wantBefore := append([]policy.UserID{uDE, uDE2, uDEDealAdmin, uEU, uEU2, uSales}, admins...)
	wantAfter := append([]policy.UserID{uDE, uSupport, uDealAdmin}, admins...)
	slices.Sort(wantBefore)
	slices.Sort(wantAfter)
	if got := before.Viewers(it); !slices.Equal(got, wantBefore) {
		t.Errorf("before the move: Viewers = %v, want %v", got, wantBefore)
	}
	if got := after.Viewers(it); !slices.Equal(got, wantAfter) {
		t.Errorf("after the move: Viewers = %v, want %v", got, wantAfter)
	}
	check(t, before, uEU, it, allowed(policy.AllowAncestorGroup))
	check(t, after, uEU, it, denied(policy.DenyNotVisible))
	check(t, after, uSupport, it, allowed(policy.AllowOwnerGroup))
	check(t, before, uSupport, it, denied(policy.DenyNotVisible))
	// The old snapshot is unchanged: it is immutable.
	if u, _ := before.User(uDE); u.Group != gDE {
		t.Errorf("the old snapshot changed: user %d now in group %d", uDE, u.Group)
	}
}

func TestV3_DeactivatedOwnersItemsStayVisible(t *testing.T) {
	s := fixture(t)
	check(t, s, uEU2, person(uInactive, policy.VisibleToOwnerGroup), allowed(policy.AllowOwnerGroup))
	check(t, s, uSales, person(uInactive, policy.VisibleToOwner), allowed(policy.AllowAncestorGroup))
	check(t, s, uDE, person(uInactive, policy.VisibleToOwnerGroupAndSubgroups), allowed(policy.AllowSubgroup))
}

func TestUnknownAndDeactivatedViewersSeeNothing(t *testing.T) {
	s := fixture(t)
	for _, vt := range allVisibleTo {
		for _, typ := range policy.AllItemTypes() {
			it := &policy.Item{Type: typ, Owner: uNobody, VisibleTo: vt, Followers: []policy.UserID{uInactive, uNobody}}
			check(t, s, uNobody, it, denied(policy.DenyUnknownUser))
			check(t, s, uInactive, it, denied(policy.DenyInactiveUser))
			check(t, s, 0, it, denied(policy.DenyUnknownUser))
		}
	}
}

func TestUnknownOwnerOnlyEntireCompanyOwnerAndFollowers(t *testing.T) {
	s := fixture(t)
	check(t, s, uSales, person(uNobody, policy.VisibleToOwnerGroupAndSubgroups), denied(policy.DenyNotVisible))
	check(t, s, uSales, person(uNobody, policy.VisibleToOwner, uSales), allowed(policy.AllowFollower))
	check(t, s, uSales, person(uNobody, policy.VisibleToEntireCompany), allowed(policy.AllowEntireCompany))
}

func TestInvalidVisibleToActsAsTheValueBelow(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		vt            policy.VisibleTo
		viewer, owner policy.UserID
		want          policy.Decision
	}{
		{0, uEU2, uEU, denied(policy.DenyNotVisible)},
		{0, uEU, uDE, allowed(policy.AllowAncestorGroup)},
		{2, uEU2, uEU, denied(policy.DenyNotVisible)},
		{4, uEU2, uEU, allowed(policy.AllowOwnerGroup)},
		{4, uDE, uEU, denied(policy.DenyNotVisible)},
		{6, uDE, uEU, allowed(policy.AllowSubgroup)},
		{6, uSupport, uEU, denied(policy.DenyNotVisible)},
		{8, uSupport, uEU, denied(policy.DenyNotVisible)},
		{8, uDE, uEU, allowed(policy.AllowSubgroup)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d/%d", tt.vt, tt.viewer, tt.owner), func(t *testing.T) {
			check(t, s, tt.viewer, person(tt.owner, tt.vt), tt.want)
		})
	}
}

// ---------------------------------------------------------------- V4

func TestV4_GroupLimits(t *testing.T) {
	tests := []struct {
		plan          policy.Plan
		extra         int
		wantLimit     int
		wantUnlimited bool
	}{
		{policy.PlanEssential, 0, 0, false},
		{policy.PlanEssential, 2, 2, false},
		{policy.PlanAdvanced, 0, 0, false},
		{policy.PlanAdvanced, 1, 1, false},
		{policy.PlanProfessional, 0, 3, false},
		{policy.PlanProfessional, 5, 8, false},
		{policy.PlanPower, 0, 15, false},
		{policy.PlanPower, 10, 25, false},
		{policy.PlanEnterprise, 0, 0, true},
		{policy.PlanEnterprise, 7, 0, true},
		{policy.PlanProfessional, -4, 3, false}, // negative extra counts as none
		{0, 2, 2, false},                        // invalid plan: only what was bought
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v+%d", tt.plan, tt.extra), func(t *testing.T) {
			limit, unlimited := tt.plan.GroupLimit(tt.extra)
			if limit != tt.wantLimit || unlimited != tt.wantUnlimited {
				t.Fatalf("GroupLimit(%d) = %d, %v; want %d, %v", tt.extra, limit, unlimited, tt.wantLimit, tt.wantUnlimited)
			}
			if !tt.wantUnlimited {
				if !tt.plan.AllowsGroups(tt.extra, tt.wantLimit) || tt.plan.AllowsGroups(tt.extra, tt.wantLimit+1) {
					t.Fatalf("AllowsGroups is not <= %d", tt.wantLimit)
				}
			} else if !tt.plan.AllowsGroups(tt.extra, 1_000_000) {
				t.Fatalf("AllowsGroups refuses on an unlimited plan")
			}
		})
	}
	t.Run("a downgrade keeps existing groups: Build ignores the limit", func(t *testing.T) {
		c := fixtureCompany()
		c.Plan = policy.PlanEssential
		s := mustBuild(t, c)
		if got := s.CustomGroupCount(); got != 7 {
			t.Fatalf("CustomGroupCount = %d, want 7", got)
		}
		if s.Plan().AllowsGroups(s.ExtraGroups(), s.CustomGroupCount()) {
			t.Fatalf("an essential company with 7 custom groups is within its limit")
		}
	})
}

func TestV4_EssentialAllowsOnlyOwnerAndEntireCompany(t *testing.T) {
	plans := []policy.Plan{policy.PlanEssential, policy.PlanAdvanced, policy.PlanProfessional, policy.PlanPower, policy.PlanEnterprise}
	for _, p := range plans {
		for vt := range policy.VisibleTo(9) {
			t.Run(fmt.Sprintf("%v/%d", p, vt), func(t *testing.T) {
				want := vt.Valid()
				if p == policy.PlanEssential || p == policy.PlanAdvanced {
					want = vt == policy.VisibleToOwner || vt == policy.VisibleToEntireCompany
				}
				if got := p.AllowsVisibleTo(vt); got != want {
					t.Fatalf("AllowsVisibleTo = %v, want %v", got, want)
				}
			})
		}
	}
	if policy.Plan(0).AllowsVisibleTo(policy.VisibleToOwner) {
		t.Errorf("an invalid plan allows OWNER")
	}
}

// ---------------------------------------------------------------- V6

// adminCase checks what viewer (in group Support, unrelated to the owner
// Berlin) sees of an OWNER item of every type.
func adminCase(t *testing.T, viewer policy.UserID, want map[policy.ItemType]policy.Decision) {
	t.Helper()
	s := fixture(t)
	for _, typ := range policy.AllItemTypes() {
		t.Run(typ.String(), func(t *testing.T) {
			it := &policy.Item{Type: typ, ID: 5, Owner: uBerlin, VisibleTo: policy.VisibleToOwner, Pipeline: 1}
			check(t, s, viewer, it, want[typ])
		})
	}
}

func TestV6_DealAdminSeesDealsAndLeadsOnly(t *testing.T) {
	adminCase(t, uDealAdmin, map[policy.ItemType]policy.Decision{
		policy.ItemTypeDeal:         allowed(policy.AllowDealAdmin),
		policy.ItemTypeLead:         allowed(policy.AllowDealAdmin),
		policy.ItemTypePerson:       denied(policy.DenyNotVisible),
		policy.ItemTypeOrganization: denied(policy.DenyNotVisible),
		policy.ItemTypeProduct:      denied(policy.DenyNotVisible),
	})
}

func TestV6_GlobalAdminSeesPersonsOrgsProductsOnly(t *testing.T) {
	adminCase(t, uGlobalAdmin, map[policy.ItemType]policy.Decision{
		policy.ItemTypeDeal:         denied(policy.DenyNotVisible),
		policy.ItemTypeLead:         denied(policy.DenyNotVisible),
		policy.ItemTypePerson:       allowed(policy.AllowGlobalAdmin),
		policy.ItemTypeOrganization: allowed(policy.AllowGlobalAdmin),
		policy.ItemTypeProduct:      allowed(policy.AllowGlobalAdmin),
	})
}

func TestV6_AppAdminSeesEverything(t *testing.T) {
	all := allowed(policy.AllowAppAdmin)
	adminCase(t, uAppAdm, map[policy.ItemType]policy.Decision{
		policy.ItemTypeDeal: all, policy.ItemTypeLead: all, policy.ItemTypePerson: all,
		policy.ItemTypeOrganization: all, policy.ItemTypeProduct: all,
	})
	t.Run("in hidden pipelines too", func(t *testing.T) {
		check(t, fixture(t), uDEAppAdmin, deal(uSupport, policy.VisibleToOwner, hiddenInDE), all)
	})
	t.Run("admin overrides decide before ownership", func(t *testing.T) {
		check(t, fixture(t), uAppAdm, person(uAppAdm, policy.VisibleToOwner), all)
	})
	t.Run("deactivated admins see nothing", func(t *testing.T) {
		c := fixtureCompany()
		for i := range c.Users {
			if c.Users[i].ID == uAppAdm {
				c.Users[i].Active = false
			}
		}
		check(t, mustBuild(t, c), uAppAdm, person(uBerlin, policy.VisibleToOwner), denied(policy.DenyInactiveUser))
	})
}

func TestV6_OtherPermissionsGrantNoView(t *testing.T) {
	c := fixtureCompany()
	c.Users = append(c.Users, policy.User{ID: 300, Group: gSupport, Active: true,
		Perms: policy.Permissions{AccountSettings: true, ChangeVisibility: true}})
	s := mustBuild(t, c)
	for _, typ := range policy.AllItemTypes() {
		it := &policy.Item{Type: typ, Owner: uBerlin, VisibleTo: policy.VisibleToOwner}
		check(t, s, 300, it, denied(policy.DenyNotVisible))
	}
}

// ---------------------------------------------------------------- V7

func TestV7_HiddenPipelineHidesDealFromOwner(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		name   string
		viewer policy.UserID
		it     *policy.Item
		want   policy.Decision
	}{
		{"owner", uDE, deal(uDE, policy.VisibleToEntireCompany, hiddenInDE), denied(policy.DenyPipelineHidden)},
		{"follower", uDE2, deal(uSupport, policy.VisibleToOwner, hiddenInDE, uDE2), denied(policy.DenyPipelineHidden)},
		{"same group", uDE2, deal(uDE, policy.VisibleToOwnerGroup, hiddenInDE), denied(policy.DenyPipelineHidden)},
		{"ancestor of the owner", uDE, deal(uBerlin, policy.VisibleToOwner, hiddenInDE), denied(policy.DenyPipelineHidden)},
		{"entire company", uDE, deal(uSupport, policy.VisibleToEntireCompany, hiddenInDE), denied(policy.DenyPipelineHidden)},
		{"global admin", uDEGlobalAdmin, deal(uDE, policy.VisibleToEntireCompany, hiddenInDE), denied(policy.DenyPipelineHidden)},
		{"other pipeline", uDE, deal(uDE, policy.VisibleToOwner, hiddenInDE+1), allowed(policy.AllowOwner)},
		{"no pipeline", uDE, deal(uDE, policy.VisibleToOwner, 0), allowed(policy.AllowOwner)},
		// Hiding is per group: neither subgroups nor ancestors of DE inherit it.
		{"subgroup of the hiding group", uBerlin, deal(uBerlin, policy.VisibleToOwner, hiddenInDE), allowed(policy.AllowOwner)},
		{"parent of the hiding group", uEU, deal(uDE, policy.VisibleToOwner, hiddenInDE), allowed(policy.AllowAncestorGroup)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, s, tt.viewer, tt.it, tt.want) })
	}
}

func TestV7_DealAdminSeesHiddenPipeline(t *testing.T) {
	s := fixture(t)
	for _, vt := range allVisibleTo {
		t.Run(vt.String(), func(t *testing.T) {
			check(t, s, uDEDealAdmin, deal(uSupport, vt, hiddenInDE), allowed(policy.AllowDealAdmin))
			check(t, s, uDEAppAdmin, deal(uSupport, vt, hiddenInDE), allowed(policy.AllowAppAdmin))
			check(t, s, uDEDealAdmin, deal(uDEDealAdmin, vt, hiddenInDE), allowed(policy.AllowDealAdmin))
		})
	}
}

func TestV7_HiddenPipelineDoesNotAffectLeads(t *testing.T) {
	s := fixture(t)
	for _, typ := range []policy.ItemType{policy.ItemTypeLead, policy.ItemTypePerson, policy.ItemTypeOrganization, policy.ItemTypeProduct} {
		t.Run(typ.String(), func(t *testing.T) {
			it := &policy.Item{Type: typ, ID: 3, Owner: uDE, VisibleTo: policy.VisibleToOwner, Pipeline: hiddenInDE}
			check(t, s, uDE, it, allowed(policy.AllowOwner))
			it.Owner, it.Followers = uSupport, []policy.UserID{uDE2}
			check(t, s, uDE2, it, allowed(policy.AllowFollower))
		})
	}
}

// ---------------------------------------------------------------- V10

func TestV10_ExplainNamesDecidingRule(t *testing.T) {
	s := fixture(t)
	tests := []struct {
		name     string
		viewer   policy.UserID
		it       *policy.Item
		want     policy.Decision
		wantFact string // one of the facts, verbatim
	}{
		{"unknown", uNobody, person(uDE, 7), denied(policy.DenyUnknownUser), "viewer 999 is not a user of the company"},
		{"inactive", uInactive, person(uDE, 7), denied(policy.DenyInactiveUser), "viewer 199 is deactivated"},
		{"hidden", uDE, deal(uDE, 7, hiddenInDE), denied(policy.DenyPipelineHidden), "pipeline 2 is hidden for group 12"},
		{"hidden, deal admin", uDEDealAdmin, deal(uDE, 1, hiddenInDE), allowed(policy.AllowDealAdmin), "viewer is a deal admin"},
		{"hidden, app admin", uDEAppAdmin, deal(uDE, 1, hiddenInDE), allowed(policy.AllowAppAdmin), "pipeline 2 is hidden for group 12"},
		{"app admin", uAppAdm, person(uDE, 1), allowed(policy.AllowAppAdmin), "viewer is an app admin"},
		{"deal admin", uDealAdmin, deal(uDE, 1, 1), allowed(policy.AllowDealAdmin), "pipeline 1 is visible to group 20"},
		{"global admin", uGlobalAdmin, person(uDE, 1), allowed(policy.AllowGlobalAdmin), "viewer is a global admin"},
		{"owner", uDE, person(uDE, 1), allowed(policy.AllowOwner), "viewer 112 is the owner"},
		{"follower", uSupport, person(uDE, 1, uSupport), allowed(policy.AllowFollower), "viewer 120 follows the item"},
		{"ancestor", uSales, person(uBerlin, 1), allowed(policy.AllowAncestorGroup), "group 10 is an ancestor of group 13"},
		{"owner group", uDE2, person(uDE, 3), allowed(policy.AllowOwnerGroup), "viewer and owner are both in group 12"},
		{"subgroup", uBerlin, person(uEU, 5), allowed(policy.AllowSubgroup), "group 13 is a descendant of group 11"},
		{"entire company", uSupport, person(uDE, 7), allowed(policy.AllowEntireCompany), "groups 20 and 12 are unrelated: neither is an ancestor of the other"},
		{"unknown owner", uSupport, person(uNobody, 7), allowed(policy.AllowEntireCompany), "owner 999 is not a user of the company, so no group rule applies"},
		{"not visible", uSupport, person(uDE, 5), denied(policy.DenyNotVisible), "owner 112 is in group 12"},
		{"owner group too narrow", uDE2, person(uDE, 1), denied(policy.DenyNotVisible), "item visible_to=OWNER(1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.Explain(tt.viewer, tt.it)
			if e.Decision != tt.want || s.Decide(tt.viewer, tt.it) != tt.want {
				t.Fatalf("Explain decided %v, Decide %v; want %v", e.Decision, s.Decide(tt.viewer, tt.it), tt.want)
			}
			last := e.Facts[len(e.Facts)-1]
			if !strings.HasPrefix(last, "decided "+tt.want.String()+": ") {
				t.Errorf("last fact %q does not name the rule %v", last, tt.want)
			}
			if !slices.Contains(e.Facts, tt.wantFact) {
				t.Errorf("facts lack %q:\n%s", tt.wantFact, e)
			}
		})
	}
	t.Run("full text", func(t *testing.T) {
		e := s.Explain(uSales, deal(uBerlin, policy.VisibleToOwner, 1))
		want := `viewer 110 is in group 10
item deal 2 is owned by user 113
item visible_to=OWNER(1)
item is in pipeline 1
pipeline 1 is visible to group 10
owner 113 is in group 13
group 10 is an ancestor of group 13
decided ALLOW ANCESTOR_GROUP: the viewer's group is an ancestor of the owner's group, which sees every visible_to value (V2, V3)`
		if e.String() != want {
			t.Fatalf("Explain =\n%s\nwant\n%s", e, want)
		}
	})
}

// ---------------------------------------------------------------- filter

func TestFilterAgreesWithDecide(t *testing.T) {
	s := fixture(t)
	c := fixtureCompany()
	var items []policy.Item
	owners := append(s.Users(), policy.User{ID: uNobody})
	for _, typ := range policy.AllItemTypes() {
		for _, o := range owners {
			for vt := range policy.VisibleTo(9) {
				for _, p := range []policy.PipelineID{0, 1, hiddenInDE} {
					for _, f := range [][]policy.UserID{nil, {uDE2, uSupport}} {
						items = append(items, policy.Item{Type: typ, ID: int64(len(items)), Owner: o.ID, VisibleTo: vt, Pipeline: p, Followers: f})
					}
				}
			}
		}
	}
	for _, viewer := range append(s.Users(), policy.User{ID: uNobody}) {
		for _, typ := range append(policy.AllItemTypes(), 0, 9) {
			f := s.Filter(viewer.ID, typ)
			if ref := policytest.ReferenceFilter(c, viewer.ID, typ); !sameFilter(f, ref) {
				t.Fatalf("Filter(%d, %v) = %+v, reference %+v", viewer.ID, typ, f, ref)
			}
			for i := range items {
				it := &items[i]
				if it.Type != typ {
					continue
				}
				if got, want := f.Allows(it), s.Decide(viewer.ID, it).Allowed; got != want {
					t.Fatalf("viewer %d, item %+v: Filter.Allows = %v, Decide = %v (filter %+v)", viewer.ID, *it, got, want, f)
				}
			}
		}
	}
}

func TestFilterContents(t *testing.T) {
	s := fixture(t)
	got := s.Filter(uDE, policy.ItemTypeDeal)
	want := policy.Filter{
		Type:            policy.ItemTypeDeal,
		Viewer:          uDE,
		HiddenPipelines: []policy.PipelineID{hiddenInDE},
		EntireCompany:   true,
		Owners: [3][]policy.UserID{
			{uBerlin},
			{uDE, uBerlin, uDE2, uDEAppAdmin, uDEDealAdmin, uDEGlobalAdmin},
			{uSales, uEU, uDE, uBerlin, uEU2, uDE2, uInactive, uDEAppAdmin, uDEDealAdmin, uDEGlobalAdmin},
		},
	}
	for i := range want.Owners {
		slices.Sort(want.Owners[i])
	}
	if !sameFilter(got, want) {
		t.Fatalf("Filter(DE member, deal) =\n%+v\nwant\n%+v", got, want)
	}
	if got := s.Filter(uDE, policy.ItemTypeLead); len(got.HiddenPipelines) != 0 {
		t.Errorf("lead filter hides pipelines %v", got.HiddenPipelines)
	}
	if got := s.Filter(uDEDealAdmin, policy.ItemTypeDeal); !got.SeesAll || len(got.HiddenPipelines) != 0 || !got.EntireCompany {
		t.Errorf("deal admin's deal filter = %+v", got)
	}
	if got := s.Filter(uDEDealAdmin, policy.ItemTypePerson); got.SeesAll {
		t.Errorf("deal admin's person filter sees all")
	}
	if got := s.Filter(uInactive, policy.ItemTypePerson); !got.Denied || got.EntireCompany || got.SeesAll {
		t.Errorf("deactivated viewer's filter = %+v", got)
	}
	if got := s.Filter(uNobody, policy.ItemTypePerson); !got.Denied {
		t.Errorf("unknown viewer's filter = %+v", got)
	}
}

// sameFilter compares filters, treating nil and empty lists alike.
func sameFilter(a, b policy.Filter) bool {
	if a.Type != b.Type || a.Viewer != b.Viewer || a.Denied != b.Denied || a.SeesAll != b.SeesAll ||
		a.EntireCompany != b.EntireCompany || !slices.Equal(a.HiddenPipelines, b.HiddenPipelines) {
		return false
	}
	for i := range a.Owners {
		if !slices.Equal(a.Owners[i], b.Owners[i]) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- engine properties

func TestDecideDoesNotAllocate(t *testing.T) {
	s := fixture(t)
	cases := []struct {
		viewer policy.UserID
		it     *policy.Item
	}{
		{uNobody, person(uDE, 1)},
		{uInactive, person(uDE, 1)},
		{uDE, deal(uDE, 7, hiddenInDE)},
		{uDEDealAdmin, deal(uDE, 7, hiddenInDE)},
		{uAppAdm, person(uDE, 1)},
		{uDE, person(uDE, 1)},
		{uSupport, person(uDE, 1, uDefault, uFR, uSupport)},
		{uSales, person(uBerlin, 1)},
		{uDE2, person(uDE, 3)},
		{uBerlin, person(uEU, 5)},
		{uSupport, person(uDE, 7)},
		{uSupport, person(uDE, 1)},
	}
	for _, c := range cases {
		var d policy.Decision
		allocs := testing.AllocsPerRun(100, func() { d = s.Decide(c.viewer, c.it) })
		if allocs != 0 {
			t.Errorf("Decide(%d, ...) -> %v: %v allocations per run, want 0", c.viewer, d, allocs)
		}
	}
}

func TestSnapshotIsSafeForConcurrentUse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	c := policytest.RandomCompany(r, policytest.WithUsers(50, 50))
	s := mustBuild(t, c)
	items := policytest.RandomItems(r, c, 300)
	want := make([][]policy.UserID, len(items))
	for i := range items {
		want[i] = s.Viewers(&items[i])
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range items {
				j := (i + g*37) % len(items)
				if got := s.Viewers(&items[j]); !slices.Equal(got, want[j]) {
					t.Errorf("goroutine %d: item %d: Viewers changed", g, j)
					return
				}
				_ = s.Filter(c.Users[i%len(c.Users)].ID, items[j].Type)
				_ = s.Explain(c.Users[i%len(c.Users)].ID, &items[j])
			}
		})
	}
	wg.Wait()
}

func TestAccessors(t *testing.T) {
	s := fixture(t)
	if g, ok := s.Group(gDE); !ok || g != (policy.Group{ID: gDE, Parent: gEU}) {
		t.Errorf("Group(DE) = %+v, %v", g, ok)
	}
	if _, ok := s.Group(77); ok {
		t.Errorf("Group(77) found")
	}
	if u, ok := s.User(uDEGlobalAdmin); !ok || !u.Perms.GlobalAdmin || !u.Active || u.Group != gDE {
		t.Errorf("User(%d) = %+v, %v", uDEGlobalAdmin, u, ok)
	}
	if _, ok := s.User(uNobody); ok {
		t.Errorf("User(nobody) found")
	}
	users := s.Users()
	if !slices.IsSortedFunc(users, func(a, b policy.User) int { return int(a.ID - b.ID) }) || len(users) != len(fixtureCompany().Users) {
		t.Errorf("Users() not sorted or incomplete: %v", users)
	}
	groups := s.Groups()
	if !slices.IsSortedFunc(groups, func(a, b policy.Group) int { return int(a.ID - b.ID) }) || len(groups) != 8 {
		t.Errorf("Groups() not sorted or incomplete: %v", groups)
	}
	eq := func(name string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	eq("DefaultGroup", s.DefaultGroup(), gDefault)
	eq("Children(EU)", s.Children(gEU), []policy.GroupID{gDE, gFR})
	eq("Children(Berlin)", s.Children(gBerlin), []policy.GroupID(nil))
	eq("Descendants(Sales)", s.Descendants(gSales), []policy.GroupID{gEU, gDE, gBerlin, gFR})
	eq("Descendants(Support)", s.Descendants(gSupport), []policy.GroupID(nil))
	eq("Ancestors(Berlin)", s.Ancestors(gBerlin), []policy.GroupID{gDE, gEU, gSales})
	eq("Members(EU)", s.Members(gEU), []policy.UserID{uEU, uEU2, uInactive})
	eq("Members(Empty)", s.Members(gEmpty), []policy.UserID(nil))
	eq("HiddenFor(DE)", s.HiddenFor(gDE), []policy.PipelineID{hiddenInDE})
	eq("HiddenFor(Berlin)", s.HiddenFor(gBerlin), []policy.PipelineID(nil))
	eq("IsAncestor(Sales, Berlin)", s.IsAncestor(gSales, gBerlin), true)
	eq("IsAncestor(Berlin, Sales)", s.IsAncestor(gBerlin, gSales), false)
	eq("IsAncestor(DE, DE)", s.IsAncestor(gDE, gDE), false)
	eq("IsAncestor(DE, FR)", s.IsAncestor(gDE, gFR), false)
	eq("IsAncestor(77, DE)", s.IsAncestor(77, gDE), false)
	eq("CustomGroupCount", s.CustomGroupCount(), 7)
	eq("Plan", s.Plan(), policy.PlanEnterprise)

	// Returned slices are copies: changing them changes nothing.
	s.HiddenFor(gDE)[0] = 99
	s.Users()[0].Active = false
	eq("HiddenFor(DE) after mutation", s.HiddenFor(gDE), []policy.PipelineID{hiddenInDE})
	check(t, s, uDE, deal(uDE, 1, hiddenInDE), denied(policy.DenyPipelineHidden))

	// Company round-trips.
	again := mustBuild(t, s.Company())
	r := rand.New(rand.NewPCG(1, 2))
	for _, it := range policytest.RandomItems(r, fixtureCompany(), 200) {
		if !slices.Equal(s.Viewers(&it), again.Viewers(&it)) {
			t.Fatalf("rebuilt from Company(): viewers of %+v differ", it)
		}
	}
}

func TestHiddenPipelinesAreMergedAndSorted(t *testing.T) {
	c := fixtureCompany()
	c.Hidden[gFR] = []policy.PipelineID{5, 3, 5, 1}
	c.Hidden[gSupport] = nil
	s := mustBuild(t, c)
	if got := s.HiddenFor(gFR); !slices.Equal(got, []policy.PipelineID{1, 3, 5}) {
		t.Fatalf("HiddenFor(FR) = %v", got)
	}
	if got := s.Filter(uFR, policy.ItemTypeDeal).HiddenPipelines; !slices.Equal(got, []policy.PipelineID{1, 3, 5}) {
		t.Fatalf("Filter(FR).HiddenPipelines = %v", got)
	}
	check(t, s, uFR, deal(uFR, 1, 3), denied(policy.DenyPipelineHidden))
}

func TestEnumsStringAndValid(t *testing.T) {
	tests := []struct {
		v     fmt.Stringer
		valid bool
		want  string
	}{
		{policy.ItemTypeDeal, true, "DEAL"},
		{policy.ItemTypeLead, true, "LEAD"},
		{policy.ItemTypePerson, true, "PERSON"},
		{policy.ItemTypeOrganization, true, "ORGANIZATION"},
		{policy.ItemTypeProduct, true, "PRODUCT"},
		{policy.ItemType(0), false, "ItemType(0)"},
		{policy.ItemType(6), false, "ItemType(6)"},
		{policy.VisibleToOwner, true, "OWNER"},
		{policy.VisibleToOwnerGroup, true, "OWNER_GROUP"},
		{policy.VisibleToOwnerGroupAndSubgroups, true, "OWNER_GROUP_AND_SUBGROUPS"},
		{policy.VisibleToEntireCompany, true, "ENTIRE_COMPANY"},
		{policy.VisibleTo(0), false, "VisibleTo(0)"},
		{policy.VisibleTo(2), false, "VisibleTo(2)"},
		{policy.VisibleTo(8), false, "VisibleTo(8)"},
		{policy.PlanEssential, true, "ESSENTIAL"},
		{policy.PlanAdvanced, true, "ADVANCED"},
		{policy.PlanProfessional, true, "PROFESSIONAL"},
		{policy.PlanPower, true, "POWER"},
		{policy.PlanEnterprise, true, "ENTERPRISE"},
		{policy.Plan(0), false, "Plan(0)"},
		{policy.Plan(6), false, "Plan(6)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.v.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			valid := tt.v.(interface{ Valid() bool }).Valid()
			if valid != tt.valid {
				t.Errorf("Valid() = %v, want %v", valid, tt.valid)
			}
		})
	}
}

// TestReasonsAreStable pins the reasons' names and numbers: the numbers match
// the proto's DecisionReason and the names are part of ExplainAccess' text.
func TestReasonsAreStable(t *testing.T) {
	tests := []struct {
		r      policy.Reason
		n      int
		name   string
		allows bool
	}{
		{policy.ReasonUnspecified, 0, "UNSPECIFIED", false},
		{policy.AllowOwner, 1, "OWNER", true},
		{policy.AllowFollower, 2, "FOLLOWER", true},
		{policy.AllowAncestorGroup, 3, "ANCESTOR_GROUP", true},
		{policy.AllowOwnerGroup, 4, "OWNER_GROUP", true},
		{policy.AllowSubgroup, 5, "SUBGROUP", true},
		{policy.AllowEntireCompany, 6, "ENTIRE_COMPANY", true},
		{policy.AllowAppAdmin, 7, "APP_ADMIN", true},
		{policy.AllowDealAdmin, 8, "DEAL_ADMIN", true},
		{policy.AllowGlobalAdmin, 9, "GLOBAL_ADMIN", true},
		{policy.DenyNotVisible, 10, "NOT_VISIBLE", false},
		{policy.DenyPipelineHidden, 11, "PIPELINE_HIDDEN", false},
		{policy.DenyInactiveUser, 12, "USER_INACTIVE", false},
		{policy.DenyUnknownUser, 14, "USER_UNKNOWN", false},
		{policy.Reason(13), 13, "Reason(13)", false},
		{policy.Reason(200), 200, "Reason(200)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if int(tt.r) != tt.n || tt.r.String() != tt.name || tt.r.Allows() != tt.allows {
				t.Fatalf("Reason %d: String %q, Allows %v; want %d %q %v", tt.r, tt.r, tt.r.Allows(), tt.n, tt.name, tt.allows)
			}
		})
	}
	if got := (policy.Decision{Allowed: true, Reason: policy.AllowOwner}).String(); got != "ALLOW OWNER" {
		t.Errorf("Decision.String() = %q", got)
	}
}
