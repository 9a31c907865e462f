package visibility_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// TestV4_GroupDefaultsFollowThePlan: on a plan that offers only OWNER and
// ENTIRE_COMPANY, a group bought as an extra group gets OWNER for the types
// left unset, not OWNER_GROUP, which the plan does not offer.
func TestV4_GroupDefaultsFollowThePlan(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ESSENTIAL)
	servicetest.Try(e.client.UpdateCompany(c.svc, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{ExtraGroups: 1},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"extra_groups"}}})).Must(t)
	g := c.getGroup(c.group("bought", 0, nil))
	if dv := g.GetDefaultVisibility(); dv.GetDeal() != vtOwner || dv.GetPerson() != vtOwner {
		t.Fatalf("essential group defaults = %v, want OWNER", dv)
	}
	pro := newCo(t, e, 2, visibilityv1.Plan_PLAN_PROFESSIONAL)
	if dv := pro.getGroup(pro.group("team", 0, nil)).GetDefaultVisibility(); dv.GetDeal() != vtGroup {
		t.Fatalf("professional group defaults = %v, want OWNER_GROUP", dv)
	}
}

// TestV4_DowngradeKeepsItemsVisibleTo: an item set to OWNER_GROUP on a rich
// plan keeps it after a downgrade, and writing it again unchanged is not
// refused; only new values must be offered by the plan.
func TestV4_DowngradeKeepsItemsVisibleTo(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_PROFESSIONAL)
	g := c.group("team", 0, nil)
	c.user(1, g, perms{change: true})
	c.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtGroup})
	servicetest.Try(e.client.UpdateCompany(c.svc, &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{Plan: visibilityv1.Plan_PLAN_ESSENTIAL},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"plan"}}})).Must(t)
	again := c.item(1, &visibilityv1.Item{Type: deal, Id: 1, VisibleTo: vtGroup})
	if again.GetItem().GetVisibleTo() != vtGroup {
		t.Fatalf("after downgrade: %v", again.GetItem())
	}
	_, err := e.client.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: 1,
		Item: &visibilityv1.Item{Type: deal, Id: 2, VisibleTo: vtGroup}})
	wantErr(t, err, codes.FailedPrecondition, vr(visibilityv1.ErrorReason_ERROR_REASON_VISIBLE_TO_NOT_IN_PLAN))
}
