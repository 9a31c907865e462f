package policy

import (
	"slices"
	"strconv"
)

// Reason names the rule that decided (V10). The numeric values 1–12 are
// those of the proto enum sightline.visibility.v1.DecisionReason, so the
// service may convert with a plain conversion; 13 (ITEM_NOT_FOUND) is the
// registry's, never the engine's, and DenyUnknownUser (14) has no proto
// counterpart (the service reports an unknown user before deciding).
type Reason uint8

// Decision reasons. Allow reasons are 1–9, deny reasons 10 and above.
const (
	ReasonUnspecified Reason = 0

	// AllowOwner: the viewer owns the item (V3).
	AllowOwner Reason = 1
	// AllowFollower: the viewer follows the item (V3).
	AllowFollower Reason = 2
	// AllowAncestorGroup: the viewer's group is a strict ancestor, at any
	// depth, of the owner's group (V2, V3), whatever the item's visible_to.
	AllowAncestorGroup Reason = 3
	// AllowOwnerGroup: visible_to >= OWNER_GROUP and the viewer is in the
	// owner's group (V3).
	AllowOwnerGroup Reason = 4
	// AllowSubgroup: visible_to >= OWNER_GROUP_AND_SUBGROUPS and the viewer's
	// group is a strict descendant of the owner's group (V2, V3).
	AllowSubgroup Reason = 5
	// AllowEntireCompany: visible_to is ENTIRE_COMPANY (V3).
	AllowEntireCompany Reason = 6
	// AllowAppAdmin: the viewer is an app admin: every item of every type, in
	// every pipeline (V6, V7).
	AllowAppAdmin Reason = 7
	// AllowDealAdmin: the viewer is a deal admin and the item is a deal or a
	// lead, in any pipeline (V6, V7).
	AllowDealAdmin Reason = 8
	// AllowGlobalAdmin: the viewer is a global admin and the item is a
	// person, organization or product (V6).
	AllowGlobalAdmin Reason = 9

	// DenyNotVisible: no rule grants access.
	DenyNotVisible Reason = 10
	// DenyPipelineHidden: the item is a deal in a pipeline hidden for the
	// viewer's group and the viewer is no deal admin (V7), even if the viewer
	// owns or follows it. The service reports it as NOT_FOUND to users.
	DenyPipelineHidden Reason = 11
	// DenyInactiveUser: the viewer is deactivated and sees nothing.
	DenyInactiveUser Reason = 12
	// DenyUnknownUser: the viewer is not a user of the company (V9).
	DenyUnknownUser Reason = 14
)

var reasonNames = [...]string{
	ReasonUnspecified:  "UNSPECIFIED",
	AllowOwner:         "OWNER",
	AllowFollower:      "FOLLOWER",
	AllowAncestorGroup: "ANCESTOR_GROUP",
	AllowOwnerGroup:    "OWNER_GROUP",
	AllowSubgroup:      "SUBGROUP",
	AllowEntireCompany: "ENTIRE_COMPANY",
	AllowAppAdmin:      "APP_ADMIN",
	AllowDealAdmin:     "DEAL_ADMIN",
	AllowGlobalAdmin:   "GLOBAL_ADMIN",
	DenyNotVisible:     "NOT_VISIBLE",
	DenyPipelineHidden: "PIPELINE_HIDDEN",
	DenyInactiveUser:   "USER_INACTIVE",
	DenyUnknownUser:    "USER_UNKNOWN",
}

// String returns the reason's stable UPPER_SNAKE name, the suffix of the
// proto's DECISION_REASON_ names (USER_UNKNOWN for DenyUnknownUser), or
// "Reason(n)" for an undefined value.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Allows reports whether r is an allow reason.
func (r Reason) Allows() bool { return r >= AllowOwner && r <= AllowGlobalAdmin }

// Decision is the answer to "may this viewer see this item", with the rule
// that decided.
type Decision struct {
	Allowed bool
	Reason  Reason
}

// String returns "ALLOW <REASON>" or "DENY <REASON>".
func (d Decision) String() string {
	if d.Allowed {
		return "ALLOW " + d.Reason.String()
	}
	return "DENY " + d.Reason.String()
}

func allow(r Reason) Decision { return Decision{Allowed: true, Reason: r} }
func deny(r Reason) Decision  { return Decision{Reason: r} }

// Decide decides whether viewer may see it. The rules are tried in this
// order and the first that matches decides:
//
//  1. the viewer must be a user of the company (DenyUnknownUser) and active
//     (DenyInactiveUser);
//  2. V7: a deal in a pipeline hidden for the viewer's group is seen only by
//     app and deal admins (AllowAppAdmin, AllowDealAdmin), and by nobody else,
//     owner and followers included (DenyPipelineHidden);
//  3. V6: app admins see everything (AllowAppAdmin), deal admins every deal
//     and lead (AllowDealAdmin), global admins every person, organization and
//     product (AllowGlobalAdmin);
//  4. V3: the owner sees the item (AllowOwner);
//  5. V3: so do its followers (AllowFollower);
//  6. V2, V3, against the group the owner is in now (skipped if the owner
//     is not a user of the company):
//     a. users in any strict ancestor of the owner's group, whatever the
//     visible_to (AllowAncestorGroup);
//     b. from OWNER_GROUP up, users in the owner's group (AllowOwnerGroup);
//     c. from OWNER_GROUP_AND_SUBGROUPS up, users in any strict descendant
//     of the owner's group (AllowSubgroup);
//  7. V3: ENTIRE_COMPANY items are seen by everyone (AllowEntireCompany);
//  8. nobody else (DenyNotVisible).
//
// Visibility values are compared as numbers ("each value sees at least what
// the value below it sees"), so an invalid value acts as the valid value
// below it (0 and 2 as OWNER) and values above 7 as OWNER_GROUP_AND_SUBGROUPS.
// The default group is top-level (V1), so it is nobody's ancestor except its
// own subgroups'. The owner's own status does not matter.
//
// Decide is O(1) in the size of the company (plus a binary search in
// it.Followers, which must be sorted) and does not allocate. it must not be
// nil.
func (s *Snapshot) Decide(viewer UserID, it *Item) Decision {
	vi, ok := s.userIdx[viewer]
	if !ok {
		return deny(DenyUnknownUser)
	}
	v := &s.users[vi]
	if !v.Active {
		return deny(DenyInactiveUser)
	}
	vg, perms := v.g, &v.Perms

	if it.Type == ItemTypeDeal && it.Pipeline != 0 && s.hiddenFor(vg, it.Pipeline) {
		switch {
		case perms.AppAdmin:
			return allow(AllowAppAdmin)
		case perms.DealAdmin:
			return allow(AllowDealAdmin)
		}
		return deny(DenyPipelineHidden)
	}

	if r := adminOverride(perms, it.Type); r != ReasonUnspecified {
		return allow(r)
	}

	if it.Owner == viewer {
		return allow(AllowOwner)
	}
	if follows(it.Followers, viewer) {
		return allow(AllowFollower)
	}

	if oi, ok := s.userIdx[it.Owner]; ok {
		og := s.users[oi].g
		switch {
		case s.strictAncestor(vg, og):
			return allow(AllowAncestorGroup)
		case it.VisibleTo >= VisibleToOwnerGroup && vg == og:
			return allow(AllowOwnerGroup)
		case it.VisibleTo >= VisibleToOwnerGroupAndSubgroups && s.strictAncestor(og, vg):
			return allow(AllowSubgroup)
		}
	}

	if it.VisibleTo == VisibleToEntireCompany {
		return allow(AllowEntireCompany)
	}
	return deny(DenyNotVisible)
}

// adminOverride returns the V6 reason under which a user with perms sees
// every item of type t, or ReasonUnspecified.
func adminOverride(perms *Permissions, t ItemType) Reason {
	switch {
	case perms.AppAdmin:
		return AllowAppAdmin
	case perms.DealAdmin && t.dealAdminType():
		return AllowDealAdmin
	case perms.GlobalAdmin && t.globalAdminType():
		return AllowGlobalAdmin
	}
	return ReasonUnspecified
}

// follows reports whether u is in followers, which is sorted ascending.
func follows(followers []UserID, u UserID) bool {
	_, found := slices.BinarySearch(followers, u)
	return found
}

// Viewer is one user who may see an item, and why.
type Viewer struct {
	User   UserID
	Reason Reason
}

// Viewers returns every user who may see it (Decide allows), sorted by id.
// It costs one Decide per user of the company.
func (s *Snapshot) Viewers(it *Item) []UserID {
	var out []UserID
	for _, ui := range s.byID {
		id := s.users[ui].ID
		if s.Decide(id, it).Allowed {
			out = append(out, id)
		}
	}
	return out
}

// ViewersWithReasons is [Snapshot.Viewers] with the reason each viewer may
// see the item.
func (s *Snapshot) ViewersWithReasons(it *Item) []Viewer {
	var out []Viewer
	for _, ui := range s.byID {
		id := s.users[ui].ID
		if d := s.Decide(id, it); d.Allowed {
			out = append(out, Viewer{User: id, Reason: d.Reason})
		}
	}
	return out
}
