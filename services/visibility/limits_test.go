package visibility_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// A request over --max-recv-msg-bytes (4 MiB for visibility) is refused
// with RESOURCE_EXHAUSTED before any handler runs, and the server goes on
// serving; one just under it reaches the handler's own limits.
func TestLimits_RequestOverMaxRecvSizeIsResourceExhausted(t *testing.T) {
	e := start(t)
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	huge := strings.Repeat("x", 5<<20)
	_, err := e.client.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 1, Name: huge, Active: true}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("5 MiB request: %v, want RESOURCE_EXHAUSTED", err)
	}
	big := strings.Repeat("x", 3<<20)
	_, err = e.client.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: 1, Name: big, Active: true}})
	wantErr(t, err, codes.InvalidArgument, "ERROR_REASON_INVALID_ARGUMENT", "user.name")
	c.user(1, 0, perms{}) // still serving
}
