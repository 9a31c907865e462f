package load_test

import (
	"context"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sightline/sightline/bench/load"
	"github.com/sightline/sightline/pkg/auth"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/visibility"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// BenchmarkVisibilityCalls compares an empty unary call with CheckAccess on
// the same connection, in process, for profiling the decision path:
//
//	go test ./bench/load -run '^$' -bench Visibility -cpuprofile /tmp/cpu.out
func BenchmarkVisibilityCalls(b *testing.B) {
	in := servicetest.Start(b, visibility.Service(), servicetest.Options{DatabaseURL: pgtest.New(b), Args: []string{"--log-level", "info"}})
	ctx := context.Background()
	set, err := load.SeedVisibility(ctx, in.Conn, func(ctx context.Context) context.Context {
		return in.Service(b, 7)
	}, 7, 1)
	if err != nil {
		b.Fatal(err)
	}
	c := visibilityv1.NewVisibilityServiceClient(in.Conn)
	hc := healthpb.NewHealthClient(in.Conn)
	user := in.As(b, auth.Principal{Kind: auth.KindUser, CompanyID: 7, UserID: 17})
	b.Run("empty", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("CheckAccess", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				_, err := c.CheckAccess(user, &visibilityv1.CheckAccessRequest{
					Item: &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(1 + i%set.Deals)}})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
