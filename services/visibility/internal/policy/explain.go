package policy

import (
	"fmt"
	"strings"
)

// Explanation is a decision with the facts behind it (V10), for debugging
// (ExplainAccess).
type Explanation struct {
	Decision
	// Facts are short English sentences with ids, in the order the rules of
	// [Snapshot.Decide] looked at them, ending with the rule that decided,
	// e.g.
	//
	//	viewer 12 is in group 4
	//	item deal 55 is owned by user 7
	//	item visible_to=OWNER(1)
	//	item is in pipeline 2
	//	pipeline 2 is visible to group 4
	//	owner 7 is in group 9
	//	group 4 is an ancestor of group 9
	//	decided ALLOW ANCESTOR_GROUP: the viewer's group is an ancestor of the owner's group (V2, V3)
	//
	// The wording is stable; only ids change.
	Facts []string
}

// String returns the facts, one per line.
func (e Explanation) String() string { return strings.Join(e.Facts, "\n") }

// Explain decides like [Snapshot.Decide] and says why (V10). It walks the
// same rules in the same order, recording what each looked at, and stops at
// the rule that decided. Unlike Decide it allocates.
func (s *Snapshot) Explain(viewer UserID, it *Item) Explanation {
	var e Explanation
	fact := func(format string, args ...any) { e.Facts = append(e.Facts, fmt.Sprintf(format, args...)) }
	decide := func(d Decision) Explanation {
		e.Decision = d
		fact("decided %s: %s", d, why[d.Reason])
		return e
	}

	vi, ok := s.userIdx[viewer]
	if !ok {
		fact("viewer %d is not a user of the company", viewer)
		return decide(deny(DenyUnknownUser))
	}
	v := &s.users[vi]
	vg, perms := v.g, &v.Perms
	fact("viewer %d is in group %d", viewer, s.groups[vg].ID)
	if !v.Active {
		fact("viewer %d is deactivated", viewer)
		return decide(deny(DenyInactiveUser))
	}
	fact("item %s %d is owned by user %d", strings.ToLower(it.Type.String()), it.ID, it.Owner)
	fact("item visible_to=%s(%d)", it.VisibleTo, it.VisibleTo)
	if perms.AppAdmin {
		fact("viewer is an app admin")
	}
	if perms.DealAdmin {
		fact("viewer is a deal admin")
	}
	if perms.GlobalAdmin {
		fact("viewer is a global admin")
	}

	if it.Type == ItemTypeDeal && it.Pipeline != 0 {
		fact("item is in pipeline %d", it.Pipeline)
		if s.hiddenFor(vg, it.Pipeline) {
			fact("pipeline %d is hidden for group %d", it.Pipeline, s.groups[vg].ID)
			switch {
			case perms.AppAdmin:
				return decide(allow(AllowAppAdmin))
			case perms.DealAdmin:
				return decide(allow(AllowDealAdmin))
			}
			return decide(deny(DenyPipelineHidden))
		}
		fact("pipeline %d is visible to group %d", it.Pipeline, s.groups[vg].ID)
	}

	if r := adminOverride(perms, it.Type); r != ReasonUnspecified {
		return decide(allow(r))
	}
	if it.Owner == viewer {
		fact("viewer %d is the owner", viewer)
		return decide(allow(AllowOwner))
	}
	if follows(it.Followers, viewer) {
		fact("viewer %d follows the item", viewer)
		return decide(allow(AllowFollower))
	}

	if oi, ok := s.userIdx[it.Owner]; !ok {
		fact("owner %d is not a user of the company, so no group rule applies", it.Owner)
	} else {
		og := s.users[oi].g
		vgID, ogID := s.groups[vg].ID, s.groups[og].ID
		fact("owner %d is in group %d", it.Owner, ogID)
		switch {
		case s.strictAncestor(vg, og):
			fact("group %d is an ancestor of group %d", vgID, ogID)
			return decide(allow(AllowAncestorGroup))
		case vg == og:
			fact("viewer and owner are both in group %d", vgID)
			if it.VisibleTo >= VisibleToOwnerGroup {
				return decide(allow(AllowOwnerGroup))
			}
		case s.strictAncestor(og, vg):
			fact("group %d is a descendant of group %d", vgID, ogID)
			if it.VisibleTo >= VisibleToOwnerGroupAndSubgroups {
				return decide(allow(AllowSubgroup))
			}
		default:
			fact("groups %d and %d are unrelated: neither is an ancestor of the other", vgID, ogID)
		}
	}

	if it.VisibleTo == VisibleToEntireCompany {
		return decide(allow(AllowEntireCompany))
	}
	return decide(deny(DenyNotVisible))
}

// why says, for each reason, the rule that decided.
var why = [...]string{
	ReasonUnspecified:  "no rule",
	AllowOwner:         "the viewer owns the item (V3)",
	AllowFollower:      "the viewer follows the item (V3)",
	AllowAncestorGroup: "the viewer's group is an ancestor of the owner's group, which sees every visible_to value (V2, V3)",
	AllowOwnerGroup:    "visible_to is OWNER_GROUP or wider and the viewer is in the owner's group (V3)",
	AllowSubgroup:      "visible_to is OWNER_GROUP_AND_SUBGROUPS or wider and the viewer's group is a descendant of the owner's group (V2, V3)",
	AllowEntireCompany: "visible_to is ENTIRE_COMPANY (V3)",
	AllowAppAdmin:      "app admins see every item of every type, in every pipeline (V6, V7)",
	AllowDealAdmin:     "deal admins see every deal and lead, in every pipeline (V6, V7)",
	AllowGlobalAdmin:   "global admins see every person, organization and product (V6)",
	DenyNotVisible:     "no rule lets the viewer see the item (V3)",
	DenyPipelineHidden: "the deal's pipeline is hidden for the viewer's group and only deal admins pass, owner and followers included (V7)",
	DenyInactiveUser:   "deactivated users see nothing",
	13:                 "",
	DenyUnknownUser:    "the viewer is not a user of this company (V9)",
}
