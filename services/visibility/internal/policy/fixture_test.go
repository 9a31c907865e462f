package policy_test

import (
	"testing"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// The fixture company used by the rule tests:
//
//	1  (default)      100, 101
//	10 Sales          110
//	└─ 11 EU          111, 115, 199 (inactive)
//	   ├─ 12 DE       112, 116, 204 (app admin), 205 (deal admin), 206 (global admin); pipeline 2 hidden
//	   │  └─ 13 Berlin 113
//	   └─ 14 FR       114
//	20 Support        120, 201 (deal admin), 202 (global admin), 203 (app admin)
//	30 Empty          (no members)
const (
	gDefault policy.GroupID = 1
	gSales   policy.GroupID = 10
	gEU      policy.GroupID = 11
	gDE      policy.GroupID = 12
	gBerlin  policy.GroupID = 13
	gFR      policy.GroupID = 14
	gSupport policy.GroupID = 20
	gEmpty   policy.GroupID = 30

	uDefault, uDefault2               policy.UserID = 100, 101
	uSales, uEU, uEU2, uInactive      policy.UserID = 110, 111, 115, 199
	uDE, uDE2, uBerlin, uFR           policy.UserID = 112, 116, 113, 114
	uSupport                          policy.UserID = 120
	uDealAdmin, uGlobalAdmin, uAppAdm policy.UserID = 201, 202, 203
	uDEAppAdmin, uDEDealAdmin         policy.UserID = 204, 205
	uDEGlobalAdmin                    policy.UserID = 206
	uNobody                           policy.UserID = 999 // not a user of the company

	hiddenInDE policy.PipelineID = 2
)

func fixtureCompany() policy.Company {
	active := func(id policy.UserID, g policy.GroupID) policy.User {
		return policy.User{ID: id, Group: g, Active: true}
	}
	admin := func(id policy.UserID, g policy.GroupID, p policy.Permissions) policy.User {
		return policy.User{ID: id, Group: g, Active: true, Perms: p}
	}
	return policy.Company{
		Plan: policy.PlanEnterprise,
		Groups: []policy.Group{
			{ID: gDefault, Default: true},
			{ID: gSales},
			{ID: gEU, Parent: gSales},
			{ID: gDE, Parent: gEU},
			{ID: gBerlin, Parent: gDE},
			{ID: gFR, Parent: gEU},
			{ID: gSupport},
			{ID: gEmpty},
		},
		Users: []policy.User{
			active(uDefault, gDefault), active(uDefault2, gDefault),
			active(uSales, gSales),
			active(uEU, gEU), active(uEU2, gEU), {ID: uInactive, Group: gEU},
			active(uDE, gDE), active(uDE2, gDE), active(uBerlin, gBerlin), active(uFR, gFR),
			active(uSupport, gSupport),
			admin(uDealAdmin, gSupport, policy.Permissions{DealAdmin: true}),
			admin(uGlobalAdmin, gSupport, policy.Permissions{GlobalAdmin: true}),
			admin(uAppAdm, gSupport, policy.Permissions{AppAdmin: true}),
			admin(uDEAppAdmin, gDE, policy.Permissions{AppAdmin: true}),
			admin(uDEDealAdmin, gDE, policy.Permissions{DealAdmin: true}),
			admin(uDEGlobalAdmin, gDE, policy.Permissions{GlobalAdmin: true, AccountSettings: true, ChangeVisibility: true}),
		},
		Hidden: map[policy.GroupID][]policy.PipelineID{gDE: {hiddenInDE}},
	}
}

func mustBuild(t testing.TB, c policy.Company) *policy.Snapshot {
	t.Helper()
	s, err := policy.Build(c)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s
}

func fixture(t testing.TB) *policy.Snapshot { return mustBuild(t, fixtureCompany()) }

// person returns a person item (no pipeline rules apply) owned by owner.
func person(owner policy.UserID, vt policy.VisibleTo, followers ...policy.UserID) *policy.Item {
	return &policy.Item{Type: policy.ItemTypePerson, ID: 1, Owner: owner, VisibleTo: vt, Followers: followers}
}

func deal(owner policy.UserID, vt policy.VisibleTo, pipeline policy.PipelineID, followers ...policy.UserID) *policy.Item {
	return &policy.Item{Type: policy.ItemTypeDeal, ID: 2, Owner: owner, VisibleTo: vt, Pipeline: pipeline, Followers: followers}
}

func allowed(r policy.Reason) policy.Decision { return policy.Decision{Allowed: true, Reason: r} }
func denied(r policy.Reason) policy.Decision  { return policy.Decision{Reason: r} }

// check asserts s.Decide(viewer, it) == want.
func check(t *testing.T, s *policy.Snapshot, viewer policy.UserID, it *policy.Item, want policy.Decision) {
	t.Helper()
	if got := s.Decide(viewer, it); got != want {
		t.Errorf("Decide(viewer %d, %v %d owned by %d, visible_to=%v, pipeline %d, followers %v) = %v, want %v",
			viewer, it.Type, it.ID, it.Owner, it.VisibleTo, it.Pipeline, it.Followers, got, want)
	}
}
