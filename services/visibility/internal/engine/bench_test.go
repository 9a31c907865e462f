package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"go.uber.org/zap"

	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/services/visibility/internal/engine"
	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/store"
	"github.com/sightline/sightline/services/visibility/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The benchmark company: the visibility issue's data set (1,000 users, 21
// custom groups in 3 levels, 4 pipelines with one hidden from 2 groups,
// 20,000 deals with mixed visible_to and followers on one in ten), written
// once per test binary into a template database through the store.
const (
	benchCompany = 7
	benchUsers   = 1000
	benchDeals   = 20000
)

var benchDB = pgtest.WithTemplate("visibility-engine-bench", func(ctx context.Context, url string) error {
	if _, _, err := pg.Migrate(ctx, url, "visibility", migrations.FS); err != nil {
		return err
	}
	pool, err := pg.Open(ctx, url, "visibility", 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	return seed(ctx, store.New(pool))
})

// benchGroups are the custom groups' ids after seed (the same in every copy).
var benchGroups []int64

func seed(ctx context.Context, st *store.Store) error {
	r := rand.New(rand.NewPCG(7, 42))
	if _, err := st.CreateCompany(ctx, benchCompany, policy.PlanEnterprise, 0); err != nil {
		return err
	}
	var groups []int64
	create := func(name string, parent int64) (int64, error) {
		g, _, err := st.CreateGroup(ctx, benchCompany, store.Group{Name: name, ParentID: parent}, nil)
		if err != nil {
			return 0, err
		}
		groups = append(groups, g.ID)
		return g.ID, nil
	}
	root, err := create("Sales", 0)
	if err != nil {
		return err
	}
	for i := range 4 {
		child, err := create(fmt.Sprintf("Region %d", i), root)
		if err != nil {
			return err
		}
		for j := range 4 {
			if _, err := create(fmt.Sprintf("Team %d.%d", i, j), child); err != nil {
				return err
			}
		}
	}
	for p := int64(1); p <= 4; p++ {
		if _, _, err := st.UpsertPipeline(ctx, benchCompany, store.Pipeline{ID: p, Name: fmt.Sprintf("Pipeline %d", p)}); err != nil {
			return err
		}
	}
	for _, g := range groups[len(groups)-2:] {
		if _, _, err := st.UpdateGroupPipelines(ctx, benchCompany, g, nil, []int64{4}); err != nil {
			return err
		}
	}
	for u := int64(1); u <= benchUsers; u++ {
		perms := policy.Permissions{ChangeVisibility: u == 1, AccountSettings: u == 1, DealAdmin: u%200 == 2, GlobalAdmin: u%200 == 3}
		if _, _, _, err := st.UpsertUser(ctx, benchCompany, store.User{ID: u, Name: fmt.Sprintf("user %d", u), Active: true, Perms: perms}); err != nil {
			return err
		}
		if u%25 == 0 {
			continue // 4% stay in the default group
		}
		if _, _, err := st.SetUserGroup(ctx, benchCompany, u, groups[r.IntN(len(groups))]); err != nil {
			return err
		}
	}
	vts := policy.AllVisibleTo()
	for start := 1; start <= benchDeals; start += 1000 {
		items := make([]store.Item, 0, 1000)
		for id := start; id < start+1000; id++ {
			it := store.Item{Type: policy.ItemTypeDeal, ID: int64(id), OwnerID: 1 + r.Int64N(benchUsers),
				VisibleTo: vts[r.IntN(len(vts))], PipelineID: 1 + r.Int64N(4)}
			items = append(items, it)
		}
		if _, _, _, err := st.UpsertItems(ctx, benchCompany, 1, items); err != nil {
			return err
		}
	}
	for id := int64(10); id <= benchDeals; id += 10 {
		if _, _, err := st.AddItemFollowers(ctx, benchCompany, policy.ItemTypeDeal, id, []int64{1 + r.Int64N(benchUsers), 1 + r.Int64N(benchUsers)}); err != nil {
			return err
		}
	}
	return nil
}

func benchStore(b *testing.B) *store.Store {
	b.Helper()
	pool, err := pg.Open(context.Background(), pgtest.New(b, benchDB), "visibility", 4)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if benchGroups == nil {
		gs, err := store.New(pool).Groups(context.Background(), benchCompany)
		if err != nil {
			b.Fatal(err)
		}
		for _, g := range gs {
			if !g.IsDefault {
				benchGroups = append(benchGroups, g.ID)
			}
		}
	}
	return store.New(pool)
}

// BenchmarkLoadCompany is a company's first load into a fresh engine: its
// structure and 20,000 items read from PostgreSQL, the snapshot built, the
// item registry indexed (what a replica does on a company's first request).
func BenchmarkLoadCompany(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e := engine.New(st, zap.NewNop(), nil)
		v, err := e.View(ctx, benchCompany, 0)
		if err != nil {
			b.Fatal(err)
		}
		v.Release()
	}
}

// BenchmarkRefreshStructural is the snapshot rebuild after a structural
// change (a user moved to another group), as the engine does after its own
// writes or on a NOTIFY: the change log read, the structure reloaded and the
// snapshot rebuilt. The write itself is not timed.
func BenchmarkRefreshStructural(b *testing.B) {
	benchRefresh(b, func(ctx context.Context, st *store.Store, i int) error {
		_, _, err := st.SetUserGroup(ctx, benchCompany, 1+int64(i%benchUsers), benchGroups[i%len(benchGroups)])
		return err
	})
}

// BenchmarkRefreshItem is the refresh after one item changed (a follower
// added): the change log and that item read, no snapshot rebuild.
func BenchmarkRefreshItem(b *testing.B) {
	benchRefresh(b, func(ctx context.Context, st *store.Store, i int) error {
		_, _, err := st.AddItemFollowers(ctx, benchCompany, policy.ItemTypeDeal, 1+int64(i%benchDeals), []int64{1 + int64(i%benchUsers)})
		return err
	})
}

// benchRefresh times the engine's refresh after each write (not timed) of
// a loaded company.
func benchRefresh(b *testing.B, write func(ctx context.Context, st *store.Store, i int) error) {
	st := benchStore(b)
	ctx := context.Background()
	e := engine.New(st, zap.NewNop(), nil)
	v, err := e.View(ctx, benchCompany, 0)
	if err != nil {
		b.Fatal(err)
	}
	v.Release()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		if err := write(ctx, st, i); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := e.Refresh(ctx, benchCompany); err != nil {
			b.Fatal(err)
		}
	}
}
