package policy_test

import (
	"fmt"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// exampleSnapshot: Sales (2) ⊃ EU (3) ⊃ DE (4); pipeline 9 is hidden for DE.
func exampleSnapshot() *policy.Snapshot {
	s, err := policy.Build(policy.Company{
		Plan: policy.PlanProfessional,
		Groups: []policy.Group{
			{ID: 1, Default: true},
			{ID: 2},
			{ID: 3, Parent: 2},
			{ID: 4, Parent: 3},
		},
		Users: []policy.User{
			{ID: 10, Group: 1, Active: true},
			{ID: 20, Group: 2, Active: true},
			{ID: 30, Group: 3, Active: true},
			{ID: 31, Group: 3, Active: true},
			{ID: 40, Group: 4, Active: true},
			{ID: 50, Group: 1, Active: true, Perms: policy.Permissions{DealAdmin: true}},
		},
		Hidden: map[policy.GroupID][]policy.PipelineID{4: {9}},
	})
	if err != nil {
		panic(err)
	}
	return s
}

func ExampleSnapshot_Decide() {
	s := exampleSnapshot()
	it := &policy.Item{Type: policy.ItemTypeDeal, ID: 7, Owner: 40, VisibleTo: policy.VisibleToOwner, Pipeline: 1}
	for _, viewer := range []policy.UserID{40, 30, 20, 31, 10, 50, 99} {
		fmt.Println(viewer, s.Decide(viewer, it))
	}
	it.Pipeline = 9 // hidden for the owner's group
	fmt.Println(40, s.Decide(40, it))
	// Output:
	// 40 ALLOW OWNER
	// 30 ALLOW ANCESTOR_GROUP
	// 20 ALLOW ANCESTOR_GROUP
	// 31 ALLOW ANCESTOR_GROUP
	// 10 DENY NOT_VISIBLE
	// 50 ALLOW DEAL_ADMIN
	// 99 DENY USER_UNKNOWN
	// 40 DENY PIPELINE_HIDDEN
}

func ExampleSnapshot_Explain() {
	s := exampleSnapshot()
	it := &policy.Item{Type: policy.ItemTypePerson, ID: 8, Owner: 30, VisibleTo: policy.VisibleToOwnerGroupAndSubgroups}
	fmt.Println(s.Explain(40, it))
	// Output:
	// viewer 40 is in group 4
	// item person 8 is owned by user 30
	// item visible_to=OWNER_GROUP_AND_SUBGROUPS(5)
	// owner 30 is in group 3
	// group 4 is a descendant of group 3
	// decided ALLOW SUBGROUP: visible_to is OWNER_GROUP_AND_SUBGROUPS or wider and the viewer's group is a descendant of the owner's group (V2, V3)
}

// A caller lists deals user 30 (group EU) may see in its own database: it
// binds the filter's fields to the documented WHERE clause.
func ExampleSnapshot_Filter() {
	s := exampleSnapshot()
	f := s.Filter(30, policy.ItemTypeDeal)
	fmt.Println("denied:", f.Denied, "sees all:", f.SeesAll, "entire company:", f.EntireCompany)
	fmt.Println("hidden pipelines:", f.HiddenPipelines)
	fmt.Println("$owners1 (visible_to=1):", f.Owners[0])
	fmt.Println("$owners3 (visible_to=3):", f.Owners[1])
	fmt.Println("$owners5 (visible_to=5):", f.Owners[2])

	f = s.Filter(40, policy.ItemTypeDeal) // group DE hides pipeline 9
	fmt.Println("DE member's hidden pipelines:", f.HiddenPipelines)
	it := &policy.Item{Type: policy.ItemTypeDeal, Owner: 40, VisibleTo: policy.VisibleToEntireCompany, Pipeline: 9}
	fmt.Println("own deal in pipeline 9 passes:", f.Allows(it), "=", s.Decide(40, it).Allowed)
	// Output:
	// denied: false sees all: false entire company: true
	// hidden pipelines: []
	// $owners1 (visible_to=1): [40]
	// $owners3 (visible_to=3): [30 31 40]
	// $owners5 (visible_to=5): [20 30 31 40]
	// DE member's hidden pipelines: [9]
	// own deal in pipeline 9 passes: false = false
}

func ExamplePlan_GroupLimit() {
	for _, p := range []policy.Plan{policy.PlanEssential, policy.PlanProfessional, policy.PlanPower, policy.PlanEnterprise} {
		limit, unlimited := p.GroupLimit(2)
		fmt.Println(p, limit, unlimited, p.AllowsVisibleTo(policy.VisibleToOwnerGroup))
	}
	// Output:
	// ESSENTIAL 2 false false
	// PROFESSIONAL 5 false true
	// POWER 17 false true
	// ENTERPRISE 0 true true
}
