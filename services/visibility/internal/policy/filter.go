package policy

import "slices"

// Filter is what one viewer may see of one item type, in a form a caller can
// apply to a list in its own SQL (LookupAccessFilter). An item of the
// filter's type passes iff
//
//	!Denied && (SeesAll || (
//	    !(Type == deal && item.pipeline ∈ HiddenPipelines) &&
//	    (item.owner == Viewer || Viewer ∈ item.followers ||
//	     (EntireCompany && item.visible_to == 7) ||
//	     item.owner ∈ Owners[OwnersIndex(item.visible_to)])))
//
// which is exactly what [Snapshot.Decide] answers for the same viewer and
// item ([Filter.Allows] is that expression in Go). In PostgreSQL, with
// Owners[0], Owners[1] and Owners[2] bound to $owners1, $owners3 and
// $owners5, a deal list is filtered by
//
//	WHERE NOT $denied AND ($sees_all OR (
//	      (d.pipeline_id IS NULL OR d.pipeline_id <> ALL($hidden))
//	      AND (d.owner_id = $viewer
//	           OR $viewer = ANY(d.follower_ids)
//	           OR ($entire_company AND d.visible_to = 7)
//	           OR (d.visible_to = 1 AND d.owner_id = ANY($owners1))
//	           OR (d.visible_to = 3 AND d.owner_id = ANY($owners3))
//	           OR (d.visible_to = 5 AND d.owner_id = ANY($owners5)))))
//
// For other item types drop the pipeline condition (HiddenPipelines is
// empty); on a table mixing types write it as (type <> 'deal' OR
// pipeline_id IS NULL OR pipeline_id <> ALL($hidden)). Keep it NULL-safe:
// NOT (pipeline_id = ANY($hidden)) is NULL, so fails, for a deal without a
// pipeline. The registry stores only the valid visible_to values 1, 3, 5 and
// 7; for others see [OwnersIndex].
type Filter struct {
	// Type is the item type the filter is for.
	Type ItemType
	// Viewer is the user the filter is for. The viewer's own items and the
	// items it follows pass (except deals in HiddenPipelines).
	Viewer UserID
	// Denied: the viewer is unknown or deactivated and sees nothing at all;
	// every other field is then zero but Type and Viewer.
	Denied bool
	// SeesAll: an admin override for this type (V6): every item passes, in
	// every pipeline; HiddenPipelines and Owners are then empty.
	SeesAll bool
	// HiddenPipelines, for deals only: deals in these pipelines never pass
	// (V7), not even for their owner or followers. Sorted ascending.
	HiddenPipelines []PipelineID
	// EntireCompany: items with visible_to ENTIRE_COMPANY pass. True unless
	// Denied.
	EntireCompany bool
	// Owners[i] lists, sorted ascending, the owners whose items with
	// visible_to OWNER (i = 0), OWNER_GROUP (1) or OWNER_GROUP_AND_SUBGROUPS
	// (2) pass. With vg the viewer's group:
	//   - Owners[0]: users in strict descendants of vg (vg is an ancestor of
	//     their group);
	//   - Owners[1]: additionally users in vg;
	//   - Owners[2]: additionally users in strict ancestors of vg (vg is a
	//     subgroup of their group).
	// Deactivated owners are included: their items stay visible to others.
	Owners [3][]UserID
}

// OwnersIndex returns the index into [Filter.Owners] that applies to items
// with visible_to v, or -1 for ENTIRE_COMPANY. Like [Snapshot.Decide], it
// compares values as numbers, so invalid values map to the valid value below
// them (0 and 2 to OWNER) and values above 7 to OWNER_GROUP_AND_SUBGROUPS.
func OwnersIndex(v VisibleTo) int {
	switch {
	case v == VisibleToEntireCompany:
		return -1
	case v >= VisibleToOwnerGroupAndSubgroups:
		return 2
	case v >= VisibleToOwnerGroup:
		return 1
	}
	return 0
}

// Allows reports whether it passes f: the filter's expression in Go. Items of
// another type than f.Type never pass.
func (f *Filter) Allows(it *Item) bool {
	if f.Denied || it.Type != f.Type {
		return false
	}
	if f.SeesAll {
		return true
	}
	if it.Type == ItemTypeDeal && it.Pipeline != 0 {
		if _, hidden := slices.BinarySearch(f.HiddenPipelines, it.Pipeline); hidden {
			return false
		}
	}
	if it.Owner == f.Viewer || follows(it.Followers, f.Viewer) {
		return true
	}
	i := OwnersIndex(it.VisibleTo)
	if i < 0 {
		return f.EntireCompany
	}
	_, found := slices.BinarySearch(f.Owners[i], it.Owner)
	return found
}

// Filter returns what viewer may see of items of type t; see [Filter] for
// how to apply it. The Owners slices are shared with other callers: read only. It agrees with [Snapshot.Decide] on every item of type t,
// whether or not its owner is a user of the company. It costs O(k log k) for
// the k owners listed.
func (s *Snapshot) Filter(viewer UserID, t ItemType) Filter {
	f := Filter{Type: t, Viewer: viewer}
	vi, ok := s.userIdx[viewer]
	if !ok || !s.users[vi].Active {
		f.Denied = true
		return f
	}
	v := &s.users[vi]
	f.EntireCompany = true
	if adminOverride(&v.Perms, t) != ReasonUnspecified {
		f.SeesAll = true
		return f
	}
	vg := v.g
	if t == ItemTypeDeal {
		f.HiddenPipelines = slices.Clone(s.hidden[vg])
	}

	f.Owners = *s.ownerSets(vg)
	return f
}

// ownerSets returns the Filter owner sets of group vg, built on first use and
// shared afterwards (the snapshot is immutable, so they never change).
func (s *Snapshot) ownerSets(vg int32) *[3][]UserID {
	if sets := s.owners[vg].Load(); sets != nil {
		return sets
	}
	// Members of vg's subtree are users[memStart[vg]:memStart[end[vg]]];
	// those of vg itself come first.
	own, sub, end := s.memStart[vg], s.memStart[vg+1], s.memStart[s.end[vg]]
	desc := s.appendUserIDs(nil, sub, end)
	withOwn := s.appendUserIDs(slices.Clone(desc), own, sub)
	withAnc := slices.Clone(withOwn)
	for p := s.parent[vg]; p >= 0; p = s.parent[p] {
		withAnc = s.appendUserIDs(withAnc, s.memStart[p], s.memStart[p+1])
	}
	slices.Sort(desc)
	slices.Sort(withOwn)
	slices.Sort(withAnc)
	sets := &[3][]UserID{desc, withOwn, withAnc}
	s.owners[vg].CompareAndSwap(nil, sets) // a concurrent builder's equal sets may win
	return s.owners[vg].Load()
}
