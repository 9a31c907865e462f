// Package visibility is the visibility service: who may see which CRM item
// (DESIGN V1–V10). Service wires it; the binary is cmd/visibility.
package visibility

import (
	"context"

	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/pkg/config"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/services/visibility/internal/engine"
	"github.com/sightline/sightline/services/visibility/internal/server"
	"github.com/sightline/sightline/services/visibility/internal/store"
	"github.com/sightline/sightline/services/visibility/migrations"
)

// Service wires the visibility service: the binary runs it with cli.Main,
// tests in-process with cli.Run (see pkg/servicetest).
func Service() cli.Service {
	return cli.Service{
		Name:       "visibility",
		Schema:     "visibility",
		Migrations: migrations.FS,
		Defaults: config.Defaults{
			GRPCAddr:        "127.0.0.1:50051",
			MetricsAddr:     "127.0.0.1:9091",
			MaxRecvMsgBytes: 4 << 20,
		},
		// Decisions are asked on every list and detail view: a log line per
		// successful one would cost more than the decision (failures still log).
		QuietMethods: []string{
			visibilityv1.VisibilityService_CheckAccess_FullMethodName,
			visibilityv1.VisibilityService_BatchCheckAccess_FullMethodName,
			visibilityv1.VisibilityService_LookupAccessFilter_FullMethodName,
			visibilityv1.VisibilityService_ListAccessibleItems_FullMethodName,
		},
		Wire: func(ctx context.Context, d cli.Deps) (func(), error) {
			st := store.New(d.Pool)
			eng := engine.New(st, d.Logger, d.Registry)
			visibilityv1.RegisterVisibilityServiceServer(d.Server, server.New(st, eng, d.Registry))
			done := make(chan struct{})
			go func() { defer close(done); eng.Listen(ctx) }()
			return func() { <-done }, nil
		},
	}
}
