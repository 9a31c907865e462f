package visibility_test

import (
	"testing"

	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/visibility"
	"github.com/sightline/sightline/services/visibility/migrations"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// migrated is a database template with the visibility schema applied once.
var migrated = pgtest.WithMigrated(pgtest.Schema{Name: "visibility", Migrations: migrations.FS})

// env is one running visibility service on a fresh database.
type env struct {
	*servicetest.Instance
	client visibilityv1.VisibilityServiceClient
	dbURL  string
}

func start(t *testing.T) *env {
	t.Helper()
	url := pgtest.New(t, migrated)
	in := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url})
	return &env{Instance: in, client: visibilityv1.NewVisibilityServiceClient(in.Conn), dbURL: url}
}
