package policy

import "strconv"

// UserID is a CRM user id (the CRM's own ids, positive).
type UserID int64

// GroupID is a visibility group id (positive). 0 means "no group": a
// [Group] whose Parent is 0 is top-level.
type GroupID int64

// PipelineID is a deal pipeline id (positive). 0 means "no pipeline".
type PipelineID int64

// ItemType is the kind of CRM item whose visibility is decided. The values
// are those of the proto enum sightline.visibility.v1.ItemType.
type ItemType uint8

// Item types. 0 is unspecified and invalid.
const (
	ItemTypeDeal         ItemType = 1
	ItemTypeLead         ItemType = 2
	ItemTypePerson       ItemType = 3
	ItemTypeOrganization ItemType = 4
	ItemTypeProduct      ItemType = 5
)

// AllItemTypes returns the valid item types in numeric order, in a new
// slice.
func AllItemTypes() []ItemType {
	return []ItemType{ItemTypeDeal, ItemTypeLead, ItemTypePerson, ItemTypeOrganization, ItemTypeProduct}
}

// Valid reports whether t is one of the five item types.
func (t ItemType) Valid() bool { return t >= ItemTypeDeal && t <= ItemTypeProduct }

// String returns DEAL, LEAD, PERSON, ORGANIZATION or PRODUCT, or
// "ItemType(n)" for an invalid value.
func (t ItemType) String() string {
	switch t {
	case ItemTypeDeal:
		return "DEAL"
	case ItemTypeLead:
		return "LEAD"
	case ItemTypePerson:
		return "PERSON"
	case ItemTypeOrganization:
		return "ORGANIZATION"
	case ItemTypeProduct:
		return "PRODUCT"
	}
	return "ItemType(" + strconv.Itoa(int(t)) + ")"
}

// dealAdminType reports whether a deal admin sees every item of type t (V6):
// deals and leads.
func (t ItemType) dealAdminType() bool { return t == ItemTypeDeal || t == ItemTypeLead }

// globalAdminType reports whether a global admin sees every item of type t
// (V6): persons, organizations and products.
func (t ItemType) globalAdminType() bool {
	return t == ItemTypePerson || t == ItemTypeOrganization || t == ItemTypeProduct
}

// VisibleTo is an item's visibility, with Pipedrive's numeric values (V3).
// Each value sees at least what the value below it sees.
type VisibleTo uint8

// Visibility values (V3). 0 is unspecified and invalid; so are 2, 4, 6 and
// anything above 7.
const (
	// The owner, the item's followers and users in any ancestor group of the
	// owner's group.
	VisibleToOwner VisibleTo = 1
	// Additionally every user in the owner's group.
	VisibleToOwnerGroup VisibleTo = 3
	// Additionally every user in any descendant group of the owner's group.
	VisibleToOwnerGroupAndSubgroups VisibleTo = 5
	// Every user of the company.
	VisibleToEntireCompany VisibleTo = 7
)

// AllVisibleTo returns the valid visibility values in increasing order, in a
// new slice.
func AllVisibleTo() []VisibleTo {
	return []VisibleTo{VisibleToOwner, VisibleToOwnerGroup, VisibleToOwnerGroupAndSubgroups, VisibleToEntireCompany}
}

// Valid reports whether v is 1, 3, 5 or 7.
func (v VisibleTo) Valid() bool {
	switch v {
	case VisibleToOwner, VisibleToOwnerGroup, VisibleToOwnerGroupAndSubgroups, VisibleToEntireCompany:
		return true
	}
	return false
}

// String returns OWNER, OWNER_GROUP, OWNER_GROUP_AND_SUBGROUPS or
// ENTIRE_COMPANY, or "VisibleTo(n)" for an invalid value.
func (v VisibleTo) String() string {
	switch v {
	case VisibleToOwner:
		return "OWNER"
	case VisibleToOwnerGroup:
		return "OWNER_GROUP"
	case VisibleToOwnerGroupAndSubgroups:
		return "OWNER_GROUP_AND_SUBGROUPS"
	case VisibleToEntireCompany:
		return "ENTIRE_COMPANY"
	}
	return "VisibleTo(" + strconv.Itoa(int(v)) + ")"
}

// Plan is the company's subscription plan; it limits groups and visibility
// values (V4). The values are those of the proto enum
// sightline.visibility.v1.Plan.
type Plan uint8

// Plans, cheapest first. 0 is unspecified and invalid.
const (
	PlanEssential    Plan = 1
	PlanAdvanced     Plan = 2
	PlanProfessional Plan = 3
	PlanPower        Plan = 4
	PlanEnterprise   Plan = 5
)

// Valid reports whether p is one of the five plans.
func (p Plan) Valid() bool { return p >= PlanEssential && p <= PlanEnterprise }

// String returns ESSENTIAL, ADVANCED, PROFESSIONAL, POWER or ENTERPRISE, or
// "Plan(n)" for an invalid value.
func (p Plan) String() string {
	switch p {
	case PlanEssential:
		return "ESSENTIAL"
	case PlanAdvanced:
		return "ADVANCED"
	case PlanProfessional:
		return "PROFESSIONAL"
	case PlanPower:
		return "POWER"
	case PlanEnterprise:
		return "ENTERPRISE"
	}
	return "Plan(" + strconv.Itoa(int(p)) + ")"
}

// GroupLimit returns how many custom groups (groups other than the default
// group) a company on plan p may have, given extra purchased groups (V4):
// essential 0, advanced 0, professional 3, power 15, plus extra; enterprise is
// unlimited (then limit is 0 and meaningless). A negative extra counts as 0;
// an invalid plan includes no groups of its own, only the extra ones.
func (p Plan) GroupLimit(extra int) (limit int, unlimited bool) {
	extra = max(extra, 0)
	switch p {
	case PlanEnterprise:
		return 0, true
	case PlanProfessional:
		return 3 + extra, false
	case PlanPower:
		return 15 + extra, false
	}
	return extra, false // essential, advanced and invalid plans: only what was bought
}

// AllowsGroups reports whether a company on plan p with extra purchased
// groups may have custom groups custom groups (the default group not
// counted). Creating a group is allowed iff AllowsGroups(extra, current+1).
func (p Plan) AllowsGroups(extra, custom int) bool {
	limit, unlimited := p.GroupLimit(extra)
	return unlimited || custom <= limit
}

// AllowsVisibleTo reports whether plan p offers visibility value v (V4):
// essential and advanced only OWNER and ENTIRE_COMPANY, the others all four.
// Invalid values and invalid plans allow nothing.
func (p Plan) AllowsVisibleTo(v VisibleTo) bool {
	if !p.Valid() || !v.Valid() {
		return false
	}
	switch p {
	case PlanEssential, PlanAdvanced:
		return v == VisibleToOwner || v == VisibleToEntireCompany
	}
	return true
}

// Permissions are a user's admin rights (V5, V6).
type Permissions struct {
	// AppAdmin (account admin) sees every item of every type: both admin
	// kinds below, in every pipeline.
	AppAdmin bool
	// DealAdmin sees every deal and lead, in every pipeline.
	DealAdmin bool
	// GlobalAdmin sees every person, organization and product.
	GlobalAdmin bool
	// AccountSettings may manage groups, memberships, pipeline access and
	// permissions. It grants no view.
	AccountSettings bool
	// ChangeVisibility may give an item a visible_to other than its owner's
	// group default (V5). It grants no view.
	ChangeVisibility bool
}

// Group is a visibility group. Groups form a forest through Parent (V1).
type Group struct {
	ID GroupID
	// Parent is 0 for a top-level group.
	Parent GroupID
	// Default marks the company's default group: exactly one, top-level.
	Default bool
}

// User is a CRM user and its visibility group (exactly one, V1).
type User struct {
	ID    UserID
	Group GroupID
	// Active is false for a deactivated user, who sees nothing; its items
	// keep their owner and stay visible to others.
	Active bool
	Perms  Permissions
}

// Item is the access metadata of one CRM item.
type Item struct {
	Type ItemType
	ID   int64
	// Owner is the item's only owner (V8). It may be a user unknown to the
	// snapshot; then no group rule applies to the item.
	Owner     UserID
	VisibleTo VisibleTo
	// Pipeline is the deal's pipeline (V7), 0 for none. It is ignored for
	// every other item type.
	Pipeline PipelineID
	// Followers must be sorted ascending without duplicates.
	Followers []UserID
}

// Company is the visibility data of one company, as stored: the input of
// [Build].
type Company struct {
	Plan Plan
	// ExtraGroups is the number of groups bought on top of the plan (V4).
	ExtraGroups int
	Groups      []Group
	Users       []User
	// Hidden lists, for each group, the pipelines hidden for its members
	// (V7). Groups not in the map see every pipeline.
	Hidden map[GroupID][]PipelineID
}
