package policy

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
)

// Errors returned by [Build], wrapped with the offending ids; test them with
// errors.Is.
var (
	ErrInvalidID          = errors.New("policy: ids must be positive")
	ErrDuplicateGroup     = errors.New("policy: duplicate group id")
	ErrDuplicateUser      = errors.New("policy: duplicate user id")
	ErrNoDefaultGroup     = errors.New("policy: the company has no default group")
	ErrManyDefaultGroups  = errors.New("policy: the company has more than one default group")
	ErrDefaultGroupParent = errors.New("policy: the default group must be top-level")
	ErrUnknownParent      = errors.New("policy: a group's parent does not exist")
	ErrGroupCycle         = errors.New("policy: groups form a cycle")
	ErrUnknownGroup       = errors.New("policy: no such group")
	ErrInvalidPipelineID  = errors.New("policy: pipeline ids must be positive")
)

// Snapshot is the immutable, validated visibility state of one company, built
// by [Build]. It is safe for concurrent use and never changes.
//
// Groups are stored in depth-first preorder (children in ascending id order),
// so a group's index is its Euler-tour entry time and its subtree is the
// index range [i, end[i]): "a is a strict ancestor of b" is
// a < b && b < end[a], in O(1). Users are stored sorted by (group preorder,
// id), so the members of a subtree are contiguous too.
type Snapshot struct {
	plan        Plan
	extraGroups int

	groups   []Group           // by preorder index
	end      []int32           // end[i]: one past the last index of i's subtree
	parent   []int32           // preorder index of the parent, -1 for top-level
	hidden   [][]PipelineID    // by preorder index, sorted, no duplicates
	children [][]int32         // by preorder index, ascending id (= ascending index)
	groupIdx map[GroupID]int32 // id → preorder index
	defIdx   int32             // preorder index of the default group

	users    []user           // sorted by (group index, id)
	userIdx  map[UserID]int32 // id → index in users
	memStart []int32          // users of group i: users[memStart[i]:memStart[i+1]]
	byID     []int32          // indexes into users, by ascending user id

	// owners[g] caches the owner sets of Filter for viewers in group g: they
	// depend on the group alone, so each is built once per snapshot.
	owners []atomic.Pointer[[3][]UserID]
}

type user struct {
	User
	g int32 // preorder index of the user's group
}

// Build validates c and builds its snapshot. It refuses (V1): non-positive or
// duplicate group and user ids, anything but exactly one default group, a
// default group with a parent, a parent that does not exist, cycles, a user
// in a group that does not exist, hidden pipelines for a group that does not
// exist and non-positive pipeline ids. Duplicate hidden pipelines are merged.
// c is not retained: Build copies what it keeps.
func Build(c Company) (*Snapshot, error) {
	n := len(c.Groups)
	s := &Snapshot{plan: c.Plan, extraGroups: c.ExtraGroups}

	// Groups by id.
	byID := slices.Clone(c.Groups)
	slices.SortFunc(byID, func(a, b Group) int { return cmp.Compare(a.ID, b.ID) })
	pos := make(map[GroupID]int, n) // id → index in byID
	defaults := 0
	for i, g := range byID {
		if g.ID <= 0 || g.Parent < 0 {
			return nil, fmt.Errorf("%w: group %d (parent %d)", ErrInvalidID, g.ID, g.Parent)
		}
		if i > 0 && byID[i-1].ID == g.ID {
			return nil, fmt.Errorf("%w: %d", ErrDuplicateGroup, g.ID)
		}
		pos[g.ID] = i
		if g.Default {
			defaults++
			if g.Parent != 0 {
				return nil, fmt.Errorf("%w: default group %d has parent %d", ErrDefaultGroupParent, g.ID, g.Parent)
			}
		}
	}
	switch {
	case defaults == 0:
		return nil, ErrNoDefaultGroup
	case defaults > 1:
		return nil, fmt.Errorf("%w: %d default groups", ErrManyDefaultGroups, defaults)
	}
	kids := make([][]int, n) // by byID index, ascending id because byID is sorted
	var roots []int
	for i, g := range byID {
		if g.Parent == 0 {
			roots = append(roots, i)
			continue
		}
		p, ok := pos[g.Parent]
		if !ok {
			return nil, fmt.Errorf("%w: group %d has parent %d", ErrUnknownParent, g.ID, g.Parent)
		}
		kids[p] = append(kids[p], i)
	}

	// Iterative depth-first preorder from the roots: an Euler tour. Groups
	// not reached lie on, or below, a cycle.
	order := make([]int32, n) // byID index → preorder index
	for i := range order {
		order[i] = -1
	}
	s.groups = make([]Group, 0, n)
	s.end = make([]int32, n)
	type frame struct{ g, next int }
	var stack []frame
	for _, r := range roots {
		stack = append(stack, frame{g: r})
		order[r] = int32(len(s.groups))
		s.groups = append(s.groups, byID[r])
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(kids[top.g]) {
				k := kids[top.g][top.next]
				top.next++
				order[k] = int32(len(s.groups))
				s.groups = append(s.groups, byID[k])
				stack = append(stack, frame{g: k})
				continue
			}
			s.end[order[top.g]] = int32(len(s.groups))
			stack = stack[:len(stack)-1]
		}
	}
	if len(s.groups) < n {
		for i := range byID {
			if order[i] < 0 {
				return nil, fmt.Errorf("%w: group %d is on or below a cycle (%v)", ErrGroupCycle, byID[i].ID, cycleFrom(byID, pos, i))
			}
		}
	}

	s.groupIdx = make(map[GroupID]int32, n)
	s.parent = make([]int32, n)
	s.children = make([][]int32, n)
	for i, g := range s.groups {
		s.groupIdx[g.ID] = int32(i)
		if g.Default {
			s.defIdx = int32(i)
		}
	}
	for i, g := range s.groups {
		s.parent[i] = -1
		if g.Parent != 0 {
			p := s.groupIdx[g.Parent]
			s.parent[i] = p
			s.children[p] = append(s.children[p], int32(i))
		}
	}

	// Hidden pipelines.
	s.hidden = make([][]PipelineID, n)
	for _, gid := range slices.Sorted(maps.Keys(c.Hidden)) {
		gi, ok := s.groupIdx[gid]
		if !ok {
			return nil, fmt.Errorf("%w: pipelines hidden for group %d", ErrUnknownGroup, gid)
		}
		ps := slices.Clone(c.Hidden[gid])
		for _, p := range ps {
			if p <= 0 {
				return nil, fmt.Errorf("%w: pipeline %d hidden for group %d", ErrInvalidPipelineID, p, gid)
			}
		}
		slices.Sort(ps)
		if ps = slices.Compact(ps); len(ps) > 0 {
			s.hidden[gi] = slices.Clip(ps)
		}
	}

	// Users, sorted by (group preorder, id).
	s.users = make([]user, len(c.Users))
	for i, u := range c.Users {
		if u.ID <= 0 {
			return nil, fmt.Errorf("%w: user %d", ErrInvalidID, u.ID)
		}
		gi, ok := s.groupIdx[u.Group]
		if !ok {
			return nil, fmt.Errorf("%w: user %d is in group %d", ErrUnknownGroup, u.ID, u.Group)
		}
		s.users[i] = user{User: u, g: gi}
	}
	slices.SortFunc(s.users, func(a, b user) int {
		return cmp.Or(cmp.Compare(a.g, b.g), cmp.Compare(a.ID, b.ID))
	})
	s.userIdx = make(map[UserID]int32, len(s.users))
	s.memStart = make([]int32, n+1)
	s.owners = make([]atomic.Pointer[[3][]UserID], n)
	for i, u := range s.users {
		if _, dup := s.userIdx[u.ID]; dup {
			return nil, fmt.Errorf("%w: %d", ErrDuplicateUser, u.ID)
		}
		s.userIdx[u.ID] = int32(i)
		s.memStart[u.g+1]++
	}
	for i := range n {
		s.memStart[i+1] += s.memStart[i]
	}
	s.byID = make([]int32, len(s.users))
	for i := range s.byID {
		s.byID[i] = int32(i)
	}
	slices.SortFunc(s.byID, func(a, b int32) int { return cmp.Compare(s.users[a].ID, s.users[b].ID) })
	return s, nil
}

// cycleFrom returns the ids of the cycle reached by walking parents up from
// byID[i], which is known to lie on or below a cycle.
func cycleFrom(byID []Group, pos map[GroupID]int, i int) []GroupID {
	seen := make(map[int]int)
	var path []GroupID
	for {
		if at, ok := seen[i]; ok {
			return path[at:]
		}
		seen[i] = len(path)
		path = append(path, byID[i].ID)
		i = pos[byID[i].Parent]
	}
}

// strictAncestor reports whether group index a is a strict ancestor of group
// index b, in O(1).
func (s *Snapshot) strictAncestor(a, b int32) bool { return a < b && b < s.end[a] }

// hiddenFor reports whether pipeline p is hidden for group index g.
func (s *Snapshot) hiddenFor(g int32, p PipelineID) bool {
	_, found := slices.BinarySearch(s.hidden[g], p)
	return found
}

// Plan returns the company's plan.
func (s *Snapshot) Plan() Plan { return s.plan }

// ExtraGroups returns the number of groups bought on top of the plan.
func (s *Snapshot) ExtraGroups() int { return s.extraGroups }

// CustomGroupCount returns the number of groups other than the default group
// (what the plan's group limit counts, V4).
func (s *Snapshot) CustomGroupCount() int { return len(s.groups) - 1 }

// DefaultGroup returns the id of the company's default group.
func (s *Snapshot) DefaultGroup() GroupID { return s.groups[s.defIdx].ID }

// Group returns the group with id id.
func (s *Snapshot) Group(id GroupID) (Group, bool) {
	i, ok := s.groupIdx[id]
	if !ok {
		return Group{}, false
	}
	return s.groups[i], true
}

// User returns the user with id id.
func (s *Snapshot) User(id UserID) (User, bool) {
	i, ok := s.userIdx[id]
	if !ok {
		return User{}, false
	}
	return s.users[i].User, true
}

// Users returns every user, sorted by id. The slice is the caller's.
func (s *Snapshot) Users() []User {
	out := make([]User, len(s.byID))
	for i, ui := range s.byID {
		out[i] = s.users[ui].User
	}
	return out
}

// Groups returns every group, sorted by id. The slice is the caller's.
func (s *Snapshot) Groups() []Group {
	out := slices.Clone(s.groups)
	slices.SortFunc(out, func(a, b Group) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Members returns the ids of the users whose group is g (not its
// subgroups), sorted ascending; nil for an unknown group.
func (s *Snapshot) Members(g GroupID) []UserID {
	gi, ok := s.groupIdx[g]
	if !ok {
		return nil
	}
	return s.appendUserIDs(nil, s.memStart[gi], s.memStart[gi+1])
}

// IsAncestor reports whether group a is a strict ancestor of group b (V2: any
// depth, not only the direct parent). A group is not its own ancestor; unknown
// groups are nobody's ancestor. O(1).
func (s *Snapshot) IsAncestor(a, b GroupID) bool {
	ai, ok := s.groupIdx[a]
	if !ok {
		return false
	}
	bi, ok := s.groupIdx[b]
	return ok && s.strictAncestor(ai, bi)
}

// Children returns the ids of g's direct subgroups, ascending; nil for an
// unknown group or a leaf.
func (s *Snapshot) Children(g GroupID) []GroupID {
	gi, ok := s.groupIdx[g]
	if !ok || len(s.children[gi]) == 0 {
		return nil
	}
	out := make([]GroupID, len(s.children[gi]))
	for i, c := range s.children[gi] {
		out[i] = s.groups[c].ID
	}
	return out
}

// Descendants returns the ids of g's strict descendants (V2: any depth) in
// depth-first preorder, siblings by ascending id; nil for an unknown group or
// a leaf.
func (s *Snapshot) Descendants(g GroupID) []GroupID {
	gi, ok := s.groupIdx[g]
	if !ok || s.end[gi] == gi+1 {
		return nil
	}
	out := make([]GroupID, 0, s.end[gi]-gi-1)
	for i := gi + 1; i < s.end[gi]; i++ {
		out = append(out, s.groups[i].ID)
	}
	return out
}

// Ancestors returns the ids of g's strict ancestors, nearest first; nil for
// an unknown or top-level group.
func (s *Snapshot) Ancestors(g GroupID) []GroupID {
	gi, ok := s.groupIdx[g]
	if !ok {
		return nil
	}
	var out []GroupID
	for p := s.parent[gi]; p >= 0; p = s.parent[p] {
		out = append(out, s.groups[p].ID)
	}
	return out
}

// HiddenFor returns the pipelines hidden for members of group g (V7), sorted
// ascending; nil if none or if g is unknown. The slice is the caller's.
func (s *Snapshot) HiddenFor(g GroupID) []PipelineID {
	gi, ok := s.groupIdx[g]
	if !ok {
		return nil
	}
	return slices.Clone(s.hidden[gi])
}

// MoveWouldCycle reports whether making newParent the parent of group g would
// create a cycle (V1): iff newParent is g itself or one of g's descendants.
// Moving to top level (newParent 0) never does; unknown groups report false
// (their existence is the caller's check).
func (s *Snapshot) MoveWouldCycle(g, newParent GroupID) bool {
	if newParent == 0 {
		return false
	}
	gi, ok := s.groupIdx[g]
	if !ok {
		return false
	}
	pi, ok := s.groupIdx[newParent]
	return ok && (pi == gi || s.strictAncestor(gi, pi))
}

// Company returns a copy of the company the snapshot was built from, with
// groups and users sorted by id and hidden pipelines sorted; edit it and
// [Build] again to apply a change.
func (s *Snapshot) Company() Company {
	c := Company{Plan: s.plan, ExtraGroups: s.extraGroups, Groups: s.Groups(), Users: s.Users()}
	for i, h := range s.hidden {
		if len(h) > 0 {
			if c.Hidden == nil {
				c.Hidden = make(map[GroupID][]PipelineID)
			}
			c.Hidden[s.groups[i].ID] = slices.Clone(h)
		}
	}
	return c
}

// appendUserIDs appends the ids of users[from:to] to dst.
func (s *Snapshot) appendUserIDs(dst []UserID, from, to int32) []UserID {
	for _, u := range s.users[from:to] {
		dst = append(dst, u.ID)
	}
	return dst
}
