package visibility_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// TestSmoke: the service is healthy, offers reflection, refuses calls
// without a token and answers a first decision end to end.
func TestSmoke(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()

	h := servicetest.Try(healthpb.NewHealthClient(e.Conn).Check(ctx, &healthpb.HealthCheckRequest{})).Must(t)
	if h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v", h.GetStatus())
	}
	stream := servicetest.Try(reflectionpb.NewServerReflectionClient(e.Conn).ServerReflectionInfo(ctx)).Must(t)
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp := servicetest.Try(stream.Recv()).Must(t)
	found := false
	for _, s := range resp.GetListServicesResponse().GetService() {
		found = found || s.GetName() == visibilityv1.VisibilityService_ServiceDesc.ServiceName
	}
	if !found {
		t.Fatalf("reflection lists %v, not the visibility service", resp.GetListServicesResponse().GetService())
	}
	_ = stream.CloseSend()

	_, err := e.client.GetCompany(ctx, &visibilityv1.GetCompanyRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("call without a token: %v, want UNAUTHENTICATED", err)
	}

	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	sales := c.group("Sales", 0, nil)
	c.user(1, sales, perms{})
	c.user(2, 0, perms{})
	it := c.item(1, &visibilityv1.Item{Type: deal, Id: 10})
	if it.GetItem().GetVisibleTo() != vtGroup || it.GetItem().GetOwnerId() != 1 || !it.GetCreated() {
		t.Fatalf("UpsertItem = %v", it)
	}
	c.wantAccess(1, deal, 10, it.GetVersion(), true, rOwner)
	c.wantAccess(2, deal, 10, it.GetVersion(), false, rNotVisible)
}
