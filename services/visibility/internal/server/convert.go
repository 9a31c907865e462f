package server

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline/sightline/pkg/apierr"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/store"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// The proto enums use Pipedrive's numbers, the same as the policy package's.

func itemType(field string, t visibilityv1.ItemType) (policy.ItemType, *apierr.FieldViolation) {
	pt := policy.ItemType(t)
	if !pt.Valid() {
		return 0, &apierr.FieldViolation{Field: field, Description: "must be ITEM_TYPE_DEAL, _LEAD, _PERSON, _ORGANIZATION or _PRODUCT"}
	}
	return pt, nil
}

func validVisibleTo(v visibilityv1.VisibleTo, allowUnspecified bool) bool {
	return (allowUnspecified && v == 0) || policy.VisibleTo(v).Valid()
}

// itemRef validates an ItemRef.
func itemRef(field string, r *visibilityv1.ItemRef) (policy.ItemType, int64, error) {
	var vs []apierr.FieldViolation
	t, v := itemType(field+".type", r.GetType())
	if v != nil {
		vs = append(vs, *v)
	}
	if r.GetId() <= 0 {
		vs = append(vs, apierr.Field(field+".id", "must be a positive id"))
	}
	if len(vs) > 0 {
		return 0, 0, apierr.InvalidArgument(vs...)
	}
	return t, r.GetId(), nil
}

func positive(field string, id int64) *apierr.FieldViolation {
	if id <= 0 {
		return &apierr.FieldViolation{Field: field, Description: "must be a positive id"}
	}
	return nil
}

func validName(field, s string, required bool) *apierr.FieldViolation {
	switch {
	case required && strings.TrimSpace(s) == "":
		return &apierr.FieldViolation{Field: field, Description: "required"}
	case utf8.RuneCountInString(s) > MaxNameLength:
		return &apierr.FieldViolation{Field: field, Description: "longer than 255 characters"}
	case strings.ContainsRune(s, 0):
		return &apierr.FieldViolation{Field: field, Description: "contains a NUL character"}
	}
	return nil
}

// violations collects non-nil violations into an INVALID_ARGUMENT error, or nil.
func violations(vs ...*apierr.FieldViolation) error {
	var out []apierr.FieldViolation
	for _, v := range vs {
		if v != nil {
			out = append(out, *v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return apierr.InvalidArgument(out...)
}

func companyPB(c store.Company) *visibilityv1.Company {
	limit, unlimited := c.Plan.GroupLimit(c.ExtraGroups)
	if unlimited {
		limit = -1
	}
	return &visibilityv1.Company{
		Id: c.ID, Plan: visibilityv1.Plan(c.Plan), ExtraGroups: int32(c.ExtraGroups), DefaultGroupId: c.DefaultGroupID,
		CustomGroupCount: int32(c.CustomGroups), CustomGroupLimit: int32(limit), Version: c.Version,
		CreateTime: ts(c.CreateTime), UpdateTime: ts(c.UpdateTime),
	}
}

func permsPB(p policy.Permissions) *visibilityv1.Permissions {
	return &visibilityv1.Permissions{AppAdmin: p.AppAdmin, DealAdmin: p.DealAdmin, GlobalAdmin: p.GlobalAdmin,
		AccountSettings: p.AccountSettings, ChangeVisibility: p.ChangeVisibility}
}

func userPB(u store.User) *visibilityv1.User {
	return &visibilityv1.User{Id: u.ID, Name: u.Name, Email: u.Email, Active: u.Active, Permissions: permsPB(u.Perms),
		GroupId: u.GroupID, CreateTime: ts(u.CreateTime), UpdateTime: ts(u.UpdateTime)}
}

func defaultsPB(d [5]policy.VisibleTo) *visibilityv1.DefaultVisibility {
	return &visibilityv1.DefaultVisibility{Deal: visibilityv1.VisibleTo(d[0]), Lead: visibilityv1.VisibleTo(d[1]),
		Person: visibilityv1.VisibleTo(d[2]), Organization: visibilityv1.VisibleTo(d[3]), Product: visibilityv1.VisibleTo(d[4])}
}

// defaultsFrom reads a DefaultVisibility; unset types get fallback.
func defaultsFrom(field string, d *visibilityv1.DefaultVisibility, fallback [5]policy.VisibleTo) ([5]policy.VisibleTo, error) {
	in := [5]visibilityv1.VisibleTo{d.GetDeal(), d.GetLead(), d.GetPerson(), d.GetOrganization(), d.GetProduct()}
	names := [5]string{"deal", "lead", "person", "organization", "product"}
	out := fallback
	var vs []*apierr.FieldViolation
	for i, v := range in {
		switch {
		case v == 0:
		case !validVisibleTo(v, false):
			vs = append(vs, &apierr.FieldViolation{Field: field + "." + names[i], Description: "must be 1, 3, 5 or 7"})
		default:
			out[i] = policy.VisibleTo(v)
		}
	}
	return out, violations(vs...)
}

func groupPB(g store.Group) *visibilityv1.Group {
	return &visibilityv1.Group{Id: g.ID, Name: g.Name, ParentId: g.ParentID, IsDefault: g.IsDefault,
		DefaultVisibility: defaultsPB(g.Defaults), HiddenPipelineIds: g.Hidden, MemberCount: int32(g.MemberCount),
		CreateTime: ts(g.CreateTime), UpdateTime: ts(g.UpdateTime)}
}

func itemPB(it store.Item) *visibilityv1.Item {
	return &visibilityv1.Item{Type: visibilityv1.ItemType(it.Type), Id: it.ID, OwnerId: it.OwnerID,
		VisibleTo: visibilityv1.VisibleTo(it.VisibleTo), PipelineId: it.PipelineID, FollowerIds: it.Followers,
		CreateTime: ts(it.CreateTime), UpdateTime: ts(it.UpdateTime)}
}

func policyItemPB(it *policy.Item) *visibilityv1.Item {
	f := make([]int64, len(it.Followers))
	for i, u := range it.Followers {
		f[i] = int64(u)
	}
	return &visibilityv1.Item{Type: visibilityv1.ItemType(it.Type), Id: it.ID, OwnerId: int64(it.Owner),
		VisibleTo: visibilityv1.VisibleTo(it.VisibleTo), PipelineId: int64(it.Pipeline), FollowerIds: f}
}

var reasons = map[policy.Reason]visibilityv1.DecisionReason{
	policy.AllowOwner:         visibilityv1.DecisionReason_DECISION_REASON_OWNER,
	policy.AllowFollower:      visibilityv1.DecisionReason_DECISION_REASON_FOLLOWER,
	policy.AllowAncestorGroup: visibilityv1.DecisionReason_DECISION_REASON_ANCESTOR_GROUP,
	policy.AllowOwnerGroup:    visibilityv1.DecisionReason_DECISION_REASON_OWNER_GROUP,
	policy.AllowSubgroup:      visibilityv1.DecisionReason_DECISION_REASON_SUBGROUP,
	policy.AllowEntireCompany: visibilityv1.DecisionReason_DECISION_REASON_ENTIRE_COMPANY,
	policy.AllowAppAdmin:      visibilityv1.DecisionReason_DECISION_REASON_APP_ADMIN,
	policy.AllowDealAdmin:     visibilityv1.DecisionReason_DECISION_REASON_DEAL_ADMIN,
	policy.AllowGlobalAdmin:   visibilityv1.DecisionReason_DECISION_REASON_GLOBAL_ADMIN,
	policy.DenyNotVisible:     visibilityv1.DecisionReason_DECISION_REASON_NOT_VISIBLE,
	policy.DenyPipelineHidden: visibilityv1.DecisionReason_DECISION_REASON_PIPELINE_HIDDEN,
	policy.DenyInactiveUser:   visibilityv1.DecisionReason_DECISION_REASON_USER_INACTIVE,
}

// reasonPB maps a policy reason; to a user principal a hidden pipeline reads
// as a missing item (V7: no trace of the pipeline).
func reasonPB(r policy.Reason, toUser bool) visibilityv1.DecisionReason {
	if r == policy.DenyPipelineHidden && toUser {
		return visibilityv1.DecisionReason_DECISION_REASON_ITEM_NOT_FOUND
	}
	return reasons[r]
}
