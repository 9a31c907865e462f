package policy_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// benchCompany returns a company of 1,000 users in 21 groups on 3 levels
// (the default group; 2 roots with 3 subgroups each and 2 sub-subgroups
// under each of those), 8 pipelines with some hidden, and 20,000 deals with
// every visible_to value and 0–3 followers.
func benchCompany() (policy.Company, []policy.Item) {
	r := rand.New(rand.NewPCG(42, 42))
	c := policy.Company{Plan: policy.PlanEnterprise, Groups: []policy.Group{{ID: 1, Default: true}}}
	next := policy.GroupID(2)
	add := func(parent policy.GroupID) policy.GroupID {
		id := next
		next++
		c.Groups = append(c.Groups, policy.Group{ID: id, Parent: parent})
		return id
	}
	for range 2 {
		root := add(0)
		for range 3 {
			mid := add(root)
			add(mid)
			add(mid)
		}
	}
	if len(c.Groups) != 21 {
		panic("bench company: want 21 groups")
	}
	c.Hidden = map[policy.GroupID][]policy.PipelineID{}
	for _, g := range c.Groups {
		if r.IntN(3) == 0 {
			c.Hidden[g.ID] = []policy.PipelineID{policy.PipelineID(1 + r.IntN(8)), policy.PipelineID(1 + r.IntN(8))}
		}
	}
	for i := range 1000 {
		c.Users = append(c.Users, policy.User{
			ID:     policy.UserID(1000 + i*7),
			Group:  c.Groups[r.IntN(len(c.Groups))].ID,
			Active: r.IntN(20) > 0,
			Perms:  policy.Permissions{DealAdmin: r.IntN(50) == 0, AppAdmin: r.IntN(100) == 0},
		})
	}
	items := make([]policy.Item, 20_000)
	for i := range items {
		it := policy.Item{
			Type:      policy.ItemTypeDeal,
			ID:        int64(i + 1),
			Owner:     c.Users[r.IntN(len(c.Users))].ID,
			VisibleTo: policy.AllVisibleTo()[r.IntN(4)],
			Pipeline:  policy.PipelineID(r.IntN(9)),
		}
		for range r.IntN(4) {
			it.Followers = append(it.Followers, c.Users[r.IntN(len(c.Users))].ID)
		}
		slices.Sort(it.Followers)
		it.Followers = slices.Compact(it.Followers)
		items[i] = it
	}
	return c, items
}

func BenchmarkDecide(b *testing.B) {
	c, items := benchCompany()
	s := mustBuild(b, c)
	// Random (viewer, item) pairs, so that every rule decides some of them.
	r := rand.New(rand.NewPCG(1, 1))
	type pair struct {
		viewer policy.UserID
		item   *policy.Item
	}
	pairs := make([]pair, 1<<16)
	for i := range pairs {
		pairs[i] = pair{c.Users[r.IntN(len(c.Users))].ID, &items[r.IntN(len(items))]}
	}
	b.ReportAllocs()
	allowed := 0
	i := 0
	for b.Loop() {
		p := pairs[i&(len(pairs)-1)]
		if s.Decide(p.viewer, p.item).Allowed {
			allowed++
		}
		i++
	}
	b.ReportMetric(float64(allowed)/float64(i), "allowed/op")
}

func BenchmarkBuild(b *testing.B) {
	c, _ := benchCompany()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.Build(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilter(b *testing.B) {
	c, _ := benchCompany()
	s := mustBuild(b, c)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = s.Filter(c.Users[i%len(c.Users)].ID, policy.ItemTypeDeal)
		i++
	}
}

func BenchmarkViewers(b *testing.B) {
	c, items := benchCompany()
	s := mustBuild(b, c)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = s.Viewers(&items[i%len(items)])
		i++
	}
}
