package policytest

import (
	"math/rand/v2"
	"slices"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// config is what RandomCompany generates.
type config struct {
	minGroups, maxGroups int
	minUsers, maxUsers   int
	minDepth             int
	pipelines            int
	adminRate            float64
	inactiveRate         float64
	plan                 policy.Plan
}

// Option tunes [RandomCompany].
type Option func(*config)

// WithGroups makes companies with between lo and hi groups, the default
// group included (at least minDepth+2, to fit the chain and two roots).
func WithGroups(lo, hi int) Option { return func(c *config) { c.minGroups, c.maxGroups = lo, hi } }

// WithUsers makes companies with between lo and hi users (at least 1).
func WithUsers(lo, hi int) Option { return func(c *config) { c.minUsers, c.maxUsers = lo, hi } }

// WithMinDepth makes forests with at least one chain of d groups (a root
// and d-1 generations below it).
func WithMinDepth(d int) Option { return func(c *config) { c.minDepth = d } }

// WithPipelines makes pipelines 1..k; items also use k+1, never hidden.
func WithPipelines(k int) Option { return func(c *config) { c.pipelines = k } }

// WithAdminRate sets the probability that a user is an admin: then it has a
// random non-empty set of the flags AppAdmin, DealAdmin and GlobalAdmin.
func WithAdminRate(p float64) Option { return func(c *config) { c.adminRate = p } }

// WithInactiveRate sets the probability that a user is deactivated.
func WithInactiveRate(p float64) Option { return func(c *config) { c.inactiveRate = p } }

// WithPlan sets the company's plan (by default a random one).
func WithPlan(p policy.Plan) Option { return func(c *config) { c.plan = p } }

// RandomCompany returns a valid company drawn from r (same r state, same
// company). By default it has 8–20 groups forming a forest of depth at least
// 4 with at least three roots, one of them the default group (which may get
// subgroups too), and some groups without members; 5–40 users with sparse,
// unordered ids, some in the default group, about 10% admins (of one or more
// kinds) and 10% deactivated; pipelines 1..4, some hidden for about a third
// of the groups (never all of them, V7). Group ids are shuffled, so a
// child's id may be lower than its parent's. The plan is random and does not
// constrain the shape (a downgrade keeps groups, V4).
func RandomCompany(r *rand.Rand, opts ...Option) policy.Company {
	cfg := config{
		minGroups: 8, maxGroups: 20,
		minUsers: 5, maxUsers: 40,
		minDepth:  4,
		pipelines: 4,
		adminRate: 0.1, inactiveRate: 0.1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.minDepth = max(cfg.minDepth, 1)
	cfg.minGroups = max(cfg.minGroups, cfg.minDepth+2)
	cfg.maxGroups = max(cfg.maxGroups, cfg.minGroups)
	cfg.minUsers = max(cfg.minUsers, 1)
	cfg.maxUsers = max(cfg.maxUsers, cfg.minUsers)
	between := func(lo, hi int) int { return lo + r.IntN(hi-lo+1) }

	c := policy.Company{Plan: cfg.plan, ExtraGroups: r.IntN(3)}
	if c.Plan == 0 {
		c.Plan = policy.Plan(1 + r.IntN(5))
	}

	// Groups: sparse shuffled ids; index 0 is the default group, 1..minDepth
	// a chain, the rest attach to a random earlier group or become roots.
	n := between(cfg.minGroups, cfg.maxGroups)
	ids := r.Perm(3 * n)[:n]
	c.Groups = make([]policy.Group, n)
	for i := range c.Groups {
		g := policy.Group{ID: policy.GroupID(ids[i] + 1)}
		switch {
		case i == 0:
			g.Default = true
		case i == 1 || i == cfg.minDepth+1: // roots
		case i <= cfg.minDepth:
			g.Parent = c.Groups[i-1].ID
		default:
			if r.IntN(5) > 0 {
				g.Parent = c.Groups[r.IntN(i)].ID // possibly under the default group
			}
		}
		c.Groups[i] = g
	}
	empty := c.Groups[cfg.minDepth+1].ID // a root that never has members
	r.Shuffle(len(c.Groups), func(i, j int) { c.Groups[i], c.Groups[j] = c.Groups[j], c.Groups[i] })

	// Users: a subset of the groups holds members, the default group always.
	var defaultID policy.GroupID
	var inhabited []policy.GroupID
	for _, g := range c.Groups {
		if g.Default {
			defaultID = g.ID
		} else if g.ID != empty && r.IntN(4) > 0 {
			inhabited = append(inhabited, g.ID)
		}
	}
	inhabited = append(inhabited, defaultID)
	nu := between(cfg.minUsers, cfg.maxUsers)
	uids := r.Perm(10 * nu)[:nu]
	c.Users = make([]policy.User, nu)
	for i := range c.Users {
		g := inhabited[r.IntN(len(inhabited))]
		if i == 0 {
			g = defaultID
		}
		chance := func(p float64) bool { return r.Float64() < p }
		c.Users[i] = policy.User{
			ID:     policy.UserID(uids[i] + 1),
			Group:  g,
			Active: !chance(cfg.inactiveRate),
			Perms: policy.Permissions{
				AccountSettings:  chance(0.2),
				ChangeVisibility: chance(0.3),
			},
		}
		if chance(cfg.adminRate) { // an admin: one or more kinds
			kinds := 1 + r.IntN(7) // a non-empty subset of {app, deal, global}
			p := &c.Users[i].Perms
			p.AppAdmin, p.DealAdmin, p.GlobalAdmin = kinds&1 != 0, kinds&2 != 0, kinds&4 != 0
		}
	}

	// Hidden pipelines: about a third of the groups hide a random proper
	// subset of 1..k (V7: a group keeps at least one visible pipeline).
	if k := cfg.pipelines; k > 1 {
		for _, g := range c.Groups {
			if r.IntN(3) > 0 {
				continue
			}
			if c.Hidden == nil {
				c.Hidden = make(map[policy.GroupID][]policy.PipelineID)
			}
			var hide []policy.PipelineID
			for _, p := range r.Perm(k)[:r.IntN(k)] {
				hide = append(hide, policy.PipelineID(p+1))
			}
			c.Hidden[g.ID] = hide // possibly empty
		}
	}
	return c
}

// RandomItems returns n items for c drawn from r, with ids 1..n: random
// types, owners mostly users of c (about 1 in 12 an unknown user id), every
// valid visible_to value, pipelines for deals (0 sometimes, and one pipeline
// past any hidden one) and now and then on other types too (which must not
// matter), and 0–4 followers (sorted, unique), mostly users of c and
// sometimes the owner itself.
func RandomItems(r *rand.Rand, c policy.Company, n int) []policy.Item {
	var maxUser policy.UserID
	for _, u := range c.Users {
		maxUser = max(maxUser, u.ID)
	}
	var maxPipeline policy.PipelineID = 3
	for _, ps := range c.Hidden {
		for _, p := range ps {
			maxPipeline = max(maxPipeline, p)
		}
	}
	someone := func() policy.UserID {
		if len(c.Users) == 0 || r.IntN(12) == 0 {
			return maxUser + 1 + policy.UserID(r.IntN(50)) // unknown to the company
		}
		return c.Users[r.IntN(len(c.Users))].ID
	}

	types, vts := policy.AllItemTypes(), policy.AllVisibleTo()
	items := make([]policy.Item, n)
	for i := range items {
		it := policy.Item{
			Type:      types[r.IntN(len(types))],
			ID:        int64(i + 1),
			Owner:     someone(),
			VisibleTo: vts[r.IntN(len(vts))],
		}
		if it.Type == policy.ItemTypeDeal || r.IntN(4) == 0 {
			if r.IntN(7) > 0 {
				it.Pipeline = 1 + policy.PipelineID(r.IntN(int(maxPipeline)+1))
			}
		}
		for range r.IntN(5) {
			f := someone()
			if r.IntN(10) == 0 {
				f = it.Owner
			}
			it.Followers = append(it.Followers, f)
		}
		slices.Sort(it.Followers)
		it.Followers = slices.Compact(it.Followers)
		items[i] = it
	}
	return items
}
