package policy_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/policy/policytest"
)

var (
	propSeed      = flag.Uint64("policy.seed", 20260101, "first seed of the policy property tests; company i uses seed+i")
	propCompanies = flag.Int("policy.companies", 300, "number of random companies in the policy property tests")
)

// forEachCompany runs f on n random companies, each from its own seed, and
// names the seed and the flags reproducing it when f fails.
func forEachCompany(t *testing.T, n int, f func(t *testing.T, r *rand.Rand, c policy.Company)) {
	t.Helper()
	if testing.Short() {
		n = min(n, 30)
	}
	for i := range n {
		seed := *propSeed + uint64(i)
		r := rand.New(rand.NewPCG(seed, 0x5167))
		c := policytest.RandomCompany(r)
		f(t, r, c)
		if t.Failed() {
			t.Fatalf("failed on company seed %d; reproduce with: go test -run '%s' -policy.seed=%d -policy.companies=1\ncompany: %+v",
				seed, t.Name(), seed, c)
		}
	}
}

// withInvalidVisibleTo gives some items invalid visible_to values (0, 2, 4,
// 6, 8), which the engine and the model must treat alike.
func withInvalidVisibleTo(r *rand.Rand, items []policy.Item) {
	for i := range items {
		if r.IntN(10) == 0 {
			items[i].VisibleTo = policy.VisibleTo(2 * r.IntN(5))
		}
	}
}

// TestPropertyDecideMatchesReference checks, over many random companies,
// that every (viewer, item) decision — allowed and reason — equals the
// reference model's, that Explain decides the same, and that Viewers equals
// ReferenceViewers.
func TestPropertyDecideMatchesReference(t *testing.T) {
	forEachCompany(t, *propCompanies, func(t *testing.T, r *rand.Rand, c policy.Company) {
		s := mustBuild(t, c)
		items := policytest.RandomItems(r, c, 200)
		withInvalidVisibleTo(r, items)
		if !checkDecisions(t, s, c, items) {
			return
		}
		// ReferenceVisible is the per-viewer listing of the same decisions.
		v := c.Users[r.IntN(len(c.Users))].ID
		var got []int64
		for i := range items {
			if s.Decide(v, &items[i]).Allowed {
				got = append(got, items[i].ID)
			}
		}
		if want := policytest.ReferenceVisible(c, v, items); !slices.Equal(got, want) {
			t.Errorf("viewer %d: visible items %v, reference %v", v, got, want)
		}
	})
}

// TestPropertyFilterAgreesWithDecide checks, over many random companies, that
// Filter equals the reference model's filter and that applying it — in Go,
// and the way the documented SQL does — lets through exactly the items Decide
// allows, for every viewer, item type and item (known or unknown owner).
func TestPropertyFilterAgreesWithDecide(t *testing.T) {
	forEachCompany(t, *propCompanies, func(t *testing.T, r *rand.Rand, c policy.Company) {
		s := mustBuild(t, c)
		items := policytest.RandomItems(r, c, 200)
		withInvalidVisibleTo(r, items)
		checkFilter(t, s, c, items)
	})
}

// viewers are the company's users and two unknown viewers (0 and an id no
// company uses).
func viewers(c policy.Company) []policy.User {
	return append(slices.Clone(c.Users), policy.User{ID: 0}, policy.User{ID: 1 << 40})
}

// checkDecisions requires every (viewer, item) decision of s — allowed and
// reason — to equal the reference model's for company c, a decision's
// Allowed to agree with its reason, Explain to decide the same (on a quarter
// of the items: it is slow) and Viewers to equal ReferenceViewers. It
// reports the first disagreement and returns false.
func checkDecisions(t testing.TB, s *policy.Snapshot, c policy.Company, items []policy.Item) bool {
	t.Helper()
	vs := viewers(c)
	for i := range items {
		it := &items[i]
		for _, v := range vs {
			got, want := s.Decide(v.ID, it), policytest.ReferenceDecide(c, v.ID, *it)
			if got != want {
				t.Errorf("viewer %d, item %+v: Decide = %v, reference %v\n%s", v.ID, *it, got, want, s.Explain(v.ID, it))
				return false
			}
			if got.Allowed != got.Reason.Allows() {
				t.Errorf("Decision %v: Allowed disagrees with its reason", got)
				return false
			}
			if i%4 != 0 {
				continue
			}
			if e := s.Explain(v.ID, it); e.Decision != got {
				t.Errorf("viewer %d, item %+v: Explain decided %v, Decide %v\n%s", v.ID, *it, e.Decision, got, e)
				return false
			}
		}
		if got, want := s.Viewers(it), policytest.ReferenceViewers(c, *it); !slices.Equal(got, want) {
			t.Errorf("item %+v: Viewers = %v, reference %v", *it, got, want)
			return false
		}
	}
	return true
}

// checkFilter requires, for every viewer and item type, s's Filter to equal
// the reference model's and to admit — applied in Go and the way the
// documented SQL does — exactly the items Decide allows. It reports the
// first disagreement and returns false.
func checkFilter(t testing.TB, s *policy.Snapshot, c policy.Company, items []policy.Item) bool {
	t.Helper()
	for _, v := range viewers(c) {
		for _, typ := range policy.AllItemTypes() {
			f := s.Filter(v.ID, typ)
			if ref := policytest.ReferenceFilter(c, v.ID, typ); !sameFilter(f, ref) {
				t.Errorf("Filter(%d, %v) = %+v\nreference %+v", v.ID, typ, f, ref)
				return false
			}
			for i := range items {
				it := &items[i]
				if it.Type != typ {
					continue
				}
				want := s.Decide(v.ID, it).Allowed
				if got := f.Allows(it); got != want {
					t.Errorf("viewer %d, item %+v: Filter.Allows = %v, Decide allowed = %v\nfilter %+v", v.ID, *it, got, want, f)
					return false
				}
				if got := policytest.ReferenceFilterAllows(f, *it); got != want {
					t.Errorf("viewer %d, item %+v: filter applied like SQL = %v, Decide allowed = %v\nfilter %+v", v.ID, *it, got, want, f)
					return false
				}
			}
		}
	}
	return true
}

// TestPropertyBuildValidatesLikeReference breaks random companies in random
// ways and checks that Build refuses exactly what the reference model does.
func TestPropertyBuildValidatesLikeReference(t *testing.T) {
	type breaker struct {
		name string
		f    func(r *rand.Rand, c *policy.Company)
	}
	pickGroup := func(r *rand.Rand, c *policy.Company) *policy.Group { return &c.Groups[r.IntN(len(c.Groups))] }
	breakers := []breaker{
		{"none", func(*rand.Rand, *policy.Company) {}},
		{"random reparent", func(r *rand.Rand, c *policy.Company) {
			g := pickGroup(r, c)
			g.Parent = pickGroup(r, c).ID // may cycle, may move the default group
		}},
		{"reparent under a descendant", func(r *rand.Rand, c *policy.Company) {
			for i := range c.Groups {
				if c.Groups[i].Parent != 0 {
					p := c.Groups[i].Parent
					for j := range c.Groups {
						if c.Groups[j].ID == p && !c.Groups[j].Default {
							c.Groups[j].Parent = c.Groups[i].ID
							return
						}
					}
				}
			}
		}},
		{"drop default", func(r *rand.Rand, c *policy.Company) {
			for i := range c.Groups {
				c.Groups[i].Default = false
			}
		}},
		{"second default", func(r *rand.Rand, c *policy.Company) { pickGroup(r, c).Default = true }},
		{"unknown parent", func(r *rand.Rand, c *policy.Company) { pickGroup(r, c).Parent = 1 << 30 }},
		{"duplicate group", func(r *rand.Rand, c *policy.Company) {
			c.Groups = append(c.Groups, policy.Group{ID: pickGroup(r, c).ID})
		}},
		{"user in a missing group", func(r *rand.Rand, c *policy.Company) { c.Users[r.IntN(len(c.Users))].Group = 1 << 30 }},
		{"duplicate user", func(r *rand.Rand, c *policy.Company) {
			u := c.Users[r.IntN(len(c.Users))]
			u.Group = pickGroup(r, c).ID
			c.Users = append(c.Users, u)
		}},
		{"hidden for a missing group", func(r *rand.Rand, c *policy.Company) {
			c.Hidden = map[policy.GroupID][]policy.PipelineID{1 << 30: {1}}
		}},
	}
	forEachCompany(t, *propCompanies, func(t *testing.T, r *rand.Rand, c policy.Company) {
		b := breakers[r.IntN(len(breakers))]
		b.f(r, &c)
		_, err := policy.Build(c)
		ref := policytest.ReferenceValidate(c)
		if (err == nil) != (ref == nil) {
			t.Errorf("break %q: Build error %v, reference error %v", b.name, err, ref)
		}
	})
}

// TestRandomCompaniesHaveTheAdvertisedShape guards the generator: a property
// test over degenerate companies would prove little.
func TestRandomCompaniesHaveTheAdvertisedShape(t *testing.T) {
	var admins, inactive, users, emptyGroups, defaultMembers, hiddenGroups, unknownOwners, items int
	forEachCompany(t, 100, func(t *testing.T, r *rand.Rand, c policy.Company) {
		if err := policytest.ReferenceValidate(c); err != nil {
			t.Fatalf("invalid random company: %v", err)
		}
		s := mustBuild(t, c)
		depth, roots := 0, 0
		for _, g := range c.Groups {
			depth = max(depth, len(s.Ancestors(g.ID))+1)
			if g.Parent == 0 {
				roots++
			}
			if len(s.Members(g.ID)) == 0 {
				emptyGroups++
			}
			if len(s.HiddenFor(g.ID)) > 0 {
				hiddenGroups++
			}
		}
		if depth < 4 || roots < 3 {
			t.Fatalf("forest of depth %d with %d roots, want >= 4 and >= 3", depth, roots)
		}
		defaultMembers += len(s.Members(s.DefaultGroup()))
		for _, u := range c.Users {
			users++
			if u.Perms.AppAdmin || u.Perms.DealAdmin || u.Perms.GlobalAdmin {
				admins++
			}
			if !u.Active {
				inactive++
			}
		}
		for _, it := range policytest.RandomItems(r, c, 100) {
			items++
			if _, ok := s.User(it.Owner); !ok {
				unknownOwners++
			}
			if !slices.IsSorted(it.Followers) || len(slices.Compact(slices.Clone(it.Followers))) != len(it.Followers) {
				t.Fatalf("followers %v not sorted and unique", it.Followers)
			}
		}
	})
	summary := fmt.Sprintf("users %d, admins %d, inactive %d, empty groups %d, default-group members %d, groups hiding pipelines %d, items %d with unknown owner %d",
		users, admins, inactive, emptyGroups, defaultMembers, hiddenGroups, items, unknownOwners)
	t.Log(summary)
	if admins == 0 || admins > users/2 || inactive == 0 || emptyGroups == 0 || defaultMembers == 0 || hiddenGroups == 0 || unknownOwners == 0 {
		t.Errorf("degenerate random companies: %s", summary)
	}
}
