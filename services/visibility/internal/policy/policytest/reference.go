package policytest

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// This file restates DESIGN.md's visibility rules as directly as possible.
// Nothing here is indexed or precomputed: every question is answered by
// scanning the company. Only the types and constants of package policy are
// used, never its functions or methods.

// findUser returns the user with id id by a linear scan.
func findUser(c *policy.Company, id policy.UserID) (policy.User, bool) {
	for _, u := range c.Users {
		if u.ID == id {
			return u, true
		}
	}
	return policy.User{}, false
}

// findGroup returns the group with id id by a linear scan.
func findGroup(c *policy.Company, id policy.GroupID) (policy.Group, bool) {
	for _, g := range c.Groups {
		if g.ID == id {
			return g, true
		}
	}
	return policy.Group{}, false
}

// isAncestor reports whether group a is a strict ancestor of group b (V2:
// "parent group" means any ancestor), by walking b's parent pointers up to a
// top-level group. The walk is bounded so that an invalid company with a
// cycle cannot hang it.
func isAncestor(c *policy.Company, a, b policy.GroupID) bool {
	g, ok := findGroup(c, b)
	for steps := 0; ok && g.Parent != 0 && steps <= len(c.Groups); steps++ {
		if g.Parent == a {
			return true
		}
		g, ok = findGroup(c, g.Parent)
	}
	return false
}

// pipelineHidden reports whether pipeline p is hidden for group g (V7).
func pipelineHidden(c *policy.Company, g policy.GroupID, p policy.PipelineID) bool {
	return slices.Contains(c.Hidden[g], p)
}

// ReferenceDecide decides whether viewer may see it in company c, by the
// rules of DESIGN.md in the order the engine documents (first match wins).
// c must be valid (see [ReferenceValidate]).
func ReferenceDecide(c policy.Company, viewer policy.UserID, it policy.Item) policy.Decision {
	yes := func(r policy.Reason) policy.Decision { return policy.Decision{Allowed: true, Reason: r} }
	no := func(r policy.Reason) policy.Decision { return policy.Decision{Allowed: false, Reason: r} }

	// 1. Only active users of the company see anything.
	v, ok := findUser(&c, viewer)
	if !ok {
		return no(policy.DenyUnknownUser)
	}
	if !v.Active {
		return no(policy.DenyInactiveUser)
	}
	p := v.Perms
	isDeal := it.Type == policy.ItemTypeDeal
	isDealOrLead := isDeal || it.Type == policy.ItemTypeLead
	isPersonOrgProduct := it.Type == policy.ItemTypePerson || it.Type == policy.ItemTypeOrganization ||
		it.Type == policy.ItemTypeProduct

	// 2. V7: "A deal in a pipeline hidden for the viewer's group is invisible
	// to that viewer even as its owner or follower (only deal admins pass)."
	// An app admin "has both" admin kinds (V6).
	if isDeal && it.Pipeline != 0 && pipelineHidden(&c, v.Group, it.Pipeline) {
		if p.AppAdmin {
			return yes(policy.AllowAppAdmin)
		}
		if p.DealAdmin {
			return yes(policy.AllowDealAdmin)
		}
		return no(policy.DenyPipelineHidden)
	}

	// 3. V6 admin overrides.
	if p.AppAdmin {
		return yes(policy.AllowAppAdmin)
	}
	if p.DealAdmin && isDealOrLead {
		return yes(policy.AllowDealAdmin)
	}
	if p.GlobalAdmin && isPersonOrgProduct {
		return yes(policy.AllowGlobalAdmin)
	}

	// 4, 5. V3: "the owner, the item's followers".
	if it.Owner == viewer {
		return yes(policy.AllowOwner)
	}
	if slices.Contains(it.Followers, viewer) {
		return yes(policy.AllowFollower)
	}

	// 6. V3 against "the group the owner is in now".
	if owner, ok := findUser(&c, it.Owner); ok {
		og, vg := owner.Group, v.Group
		// OWNER: "users in any ancestor group of the owner's group".
		if isAncestor(&c, vg, og) {
			return yes(policy.AllowAncestorGroup)
		}
		// OWNER_GROUP: "additionally every user in the owner's group".
		if it.VisibleTo >= policy.VisibleToOwnerGroup && vg == og {
			return yes(policy.AllowOwnerGroup)
		}
		// OWNER_GROUP_AND_SUBGROUPS: "additionally every user in any
		// descendant group of the owner's group".
		if it.VisibleTo >= policy.VisibleToOwnerGroupAndSubgroups && isAncestor(&c, og, vg) {
			return yes(policy.AllowSubgroup)
		}
	}

	// 7. ENTIRE_COMPANY: "every user of the company".
	if it.VisibleTo == policy.VisibleToEntireCompany {
		return yes(policy.AllowEntireCompany)
	}
	// 8.
	return no(policy.DenyNotVisible)
}

// ReferenceViewers returns the ids of every user of c who may see it, sorted
// ascending.
func ReferenceViewers(c policy.Company, it policy.Item) []policy.UserID {
	var out []policy.UserID
	for _, u := range c.Users {
		if ReferenceDecide(c, u.ID, it).Allowed {
			out = append(out, u.ID)
		}
	}
	slices.Sort(out)
	return out
}

// ReferenceVisible returns the ids of the items viewer may see, in the order
// of items.
func ReferenceVisible(c policy.Company, viewer policy.UserID, items []policy.Item) []int64 {
	var out []int64
	for _, it := range items {
		if ReferenceDecide(c, viewer, it).Allowed {
			out = append(out, it.ID)
		}
	}
	return out
}

// ReferenceFilter computes, from its definition, the filter the engine's
// Snapshot.Filter must return for viewer and item type t. Empty lists are
// nil.
func ReferenceFilter(c policy.Company, viewer policy.UserID, t policy.ItemType) policy.Filter {
	f := policy.Filter{Type: t, Viewer: viewer}
	v, ok := findUser(&c, viewer)
	if !ok || !v.Active {
		f.Denied = true
		return f
	}
	f.EntireCompany = true
	p := v.Perms
	if p.AppAdmin ||
		(p.DealAdmin && (t == policy.ItemTypeDeal || t == policy.ItemTypeLead)) ||
		(p.GlobalAdmin && (t == policy.ItemTypePerson || t == policy.ItemTypeOrganization || t == policy.ItemTypeProduct)) {
		f.SeesAll = true
		return f
	}
	if t == policy.ItemTypeDeal {
		for _, pl := range c.Hidden[v.Group] {
			if !slices.Contains(f.HiddenPipelines, pl) {
				f.HiddenPipelines = append(f.HiddenPipelines, pl)
			}
		}
		slices.Sort(f.HiddenPipelines)
	}
	for _, u := range c.Users {
		below := isAncestor(&c, v.Group, u.Group) // u's group is a descendant of the viewer's
		same := u.Group == v.Group
		above := isAncestor(&c, u.Group, v.Group) // u's group is an ancestor of the viewer's
		if below {
			f.Owners[0] = append(f.Owners[0], u.ID)
		}
		if below || same {
			f.Owners[1] = append(f.Owners[1], u.ID)
		}
		if below || same || above {
			f.Owners[2] = append(f.Owners[2], u.ID)
		}
	}
	for i := range f.Owners {
		slices.Sort(f.Owners[i])
	}
	return f
}

// ReferenceFilterAllows applies f to it the way a caller's SQL does (the
// example WHERE clause of policy.Filter), written separately from
// policy.Filter.Allows.
func ReferenceFilterAllows(f policy.Filter, it policy.Item) bool {
	if f.Denied || it.Type != f.Type {
		return false
	}
	if f.SeesAll {
		return true
	}
	if it.Type == policy.ItemTypeDeal && slices.Contains(f.HiddenPipelines, it.Pipeline) {
		return false
	}
	if it.Owner == f.Viewer || slices.Contains(it.Followers, f.Viewer) {
		return true
	}
	switch vt := it.VisibleTo; {
	case vt == policy.VisibleToEntireCompany:
		return f.EntireCompany
	case vt >= policy.VisibleToOwnerGroupAndSubgroups: // 5, and invalid 6, 8, ...
		return slices.Contains(f.Owners[2], it.Owner)
	case vt >= policy.VisibleToOwnerGroup: // 3, and invalid 4
		return slices.Contains(f.Owners[1], it.Owner)
	default: // 1, and invalid 0, 2
		return slices.Contains(f.Owners[0], it.Owner)
	}
}

// ReferenceValidate reports what makes c invalid by V1 (and the snapshot's
// input rules), or nil: ids must be positive and unique, exactly one default
// group, top-level; every parent must exist; no cycles; every user in an
// existing group; hidden pipelines only for existing groups, with positive
// ids.
func ReferenceValidate(c policy.Company) error {
	var errs []error
	defaults := 0
	for i, g := range c.Groups {
		if g.ID <= 0 || g.Parent < 0 {
			errs = append(errs, fmt.Errorf("group %d: bad id or parent %d", g.ID, g.Parent))
		}
		for _, h := range c.Groups[:i] {
			if h.ID == g.ID {
				errs = append(errs, fmt.Errorf("group %d: duplicate", g.ID))
			}
		}
		if g.Default {
			defaults++
			if g.Parent != 0 {
				errs = append(errs, fmt.Errorf("default group %d: has parent %d", g.ID, g.Parent))
			}
		}
		if _, ok := findGroup(&c, g.Parent); g.Parent != 0 && !ok {
			errs = append(errs, fmt.Errorf("group %d: parent %d does not exist", g.ID, g.Parent))
		}
		// Walk up: a valid forest reaches a top-level group within
		// len(c.Groups) steps.
		cur, ok := g, true
		steps := 0
		for ok && cur.Parent != 0 && steps <= len(c.Groups) {
			cur, ok = findGroup(&c, cur.Parent)
			steps++
		}
		if ok && cur.Parent != 0 {
			errs = append(errs, fmt.Errorf("group %d: on or below a cycle", g.ID))
		}
	}
	if defaults != 1 {
		errs = append(errs, fmt.Errorf("%d default groups, want 1", defaults))
	}
	for i, u := range c.Users {
		if u.ID <= 0 {
			errs = append(errs, fmt.Errorf("user %d: bad id", u.ID))
		}
		for _, w := range c.Users[:i] {
			if w.ID == u.ID {
				errs = append(errs, fmt.Errorf("user %d: duplicate", u.ID))
			}
		}
		if _, ok := findGroup(&c, u.Group); !ok {
			errs = append(errs, fmt.Errorf("user %d: group %d does not exist", u.ID, u.Group))
		}
	}
	for g, ps := range c.Hidden {
		if _, ok := findGroup(&c, g); !ok {
			errs = append(errs, fmt.Errorf("hidden pipelines for group %d, which does not exist", g))
		}
		for _, p := range ps {
			if p <= 0 {
				errs = append(errs, fmt.Errorf("group %d: bad pipeline id %d", g, p))
			}
		}
	}
	return errors.Join(errs...)
}
