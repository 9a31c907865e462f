package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/store"
)

// ErrVersionNotReached: the company has no version as new as the one asked for.
var ErrVersionNotReached = errors.New("version not reached")

// Engine holds the companies' states.
type Engine struct {
	store *store.Store
	log   *zap.Logger

	mu        sync.RWMutex
	companies map[int64]*Company

	rebuild prometheus.Histogram
	loaded  prometheus.Gauge
	applied prometheus.Counter
}

// New returns an engine over st; metrics are registered on reg when not nil.
func New(st *store.Store, log *zap.Logger, reg prometheus.Registerer) *Engine {
	e := &Engine{
		store:     st,
		log:       log,
		companies: map[int64]*Company{},
		rebuild: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sightline_visibility_snapshot_rebuild_seconds",
			Help:    "Time to load or refresh a company's in-memory snapshot from PostgreSQL.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		loaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sightline_visibility_companies_loaded",
			Help: "Companies held in memory.",
		}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_visibility_snapshot_versions_applied_total",
			Help: "Company versions (committed changes) brought into memory by refreshes; its rate is the change rate this replica follows.",
		}),
	}
	if reg != nil {
		reg.MustRegister(e.rebuild, e.loaded, e.applied)
	}
	return e
}

// Company is one company's in-memory state.
type Company struct {
	id      int64
	refresh sync.Mutex  // serializes loads and refreshes
	ready   atomic.Bool // loaded once; then only refreshed

	mu       sync.RWMutex
	version  int64
	snap     *policy.Snapshot
	items    map[key]*policy.Item
	sorted   [policy.ItemTypeProduct + 1][]*policy.Item // per type, by id; valid while sortedOK
	sortedOK bool
}

type key struct {
	t  policy.ItemType
	id int64
}

// View is a read-locked view of a company at one version. Release it when done.
type View struct {
	c       *Company
	Version int64
	Snap    *policy.Snapshot
}

// Release ends the read.
func (v *View) Release() { v.c.mu.RUnlock() }

// Item returns a registry item, or nil.
func (v *View) Item(t policy.ItemType, id int64) *policy.Item { return v.c.items[key{t, id}] }

// ItemsAfter returns the items of type t with id > after, by id. The slice is
// shared: read it only while the view is held.
func (v *View) ItemsAfter(t policy.ItemType, after int64) []*policy.Item {
	s := v.c.sorted[t]
	i, _ := slices.BinarySearchFunc(s, after, func(it *policy.Item, id int64) int { return cmp.Compare(it.ID, id) })
	if i < len(s) && s[i].ID == after {
		i++
	}
	return s[i:]
}

// View returns the company's state at a version of at least minVersion,
// loading or refreshing it from PostgreSQL when needed.
func (e *Engine) View(ctx context.Context, companyID, minVersion int64) (*View, error) {
	return e.view(ctx, companyID, minVersion, false)
}

// ListView is View with the items sorted by id, for paging with ItemsAfter.
func (e *Engine) ListView(ctx context.Context, companyID, minVersion int64) (*View, error) {
	return e.view(ctx, companyID, minVersion, true)
}

func (e *Engine) view(ctx context.Context, companyID, minVersion int64, sorted bool) (*View, error) {
	c, err := e.company(ctx, companyID)
	if err != nil {
		return nil, err
	}
	refreshed := false
	for {
		c.mu.RLock()
		if c.version >= minVersion && (!sorted || c.sortedOK) {
			return &View{c: c, Version: c.version, Snap: c.snap}, nil
		}
		stale := c.version < minVersion
		c.mu.RUnlock()
		if stale {
			if refreshed {
				return nil, fmt.Errorf("%w: asked for %d", ErrVersionNotReached, minVersion)
			}
			if err := e.Refresh(ctx, companyID); err != nil {
				return nil, err
			}
			refreshed = true
			continue
		}
		c.mu.Lock()
		if !c.sortedOK {
			c.sortItems()
		}
		c.mu.Unlock()
	}
}

// sortItems rebuilds the per-type sorted slices (caller holds the write lock).
func (c *Company) sortItems() {
	for t := range c.sorted {
		c.sorted[t] = nil
	}
	for _, it := range c.items {
		c.sorted[it.Type] = append(c.sorted[it.Type], it)
	}
	for t := range c.sorted {
		slices.SortFunc(c.sorted[t], func(a, b *policy.Item) int { return cmp.Compare(a.ID, b.ID) })
	}
	c.sortedOK = true
}

// company returns the loaded state, loading it on first use.
func (e *Engine) company(ctx context.Context, id int64) (*Company, error) {
	e.mu.RLock()
	c, ok := e.companies[id]
	e.mu.RUnlock()
	if ok && c.ready.Load() {
		return c, nil // the hot path: no lock but the map's read lock
	}
	if !ok {
		e.mu.Lock()
		if c, ok = e.companies[id]; !ok {
			c = &Company{id: id}
			e.companies[id] = c
		}
		e.mu.Unlock()
	}

	c.refresh.Lock()
	defer c.refresh.Unlock()
	if c.ready.Load() {
		return c, nil
	}
	start := time.Now()
	s, err := e.store.LoadSnapshot(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrCompanyNotFound) {
			e.mu.Lock()
			delete(e.companies, id)
			e.mu.Unlock()
		}
		return nil, err
	}
	snap, err := policy.Build(s.Company)
	if err != nil {
		return nil, fmt.Errorf("company %d: %w", id, err)
	}
	items := make(map[key]*policy.Item, len(s.Items))
	for i := range s.Items {
		it := &s.Items[i]
		items[key{it.Type, it.ID}] = it
	}
	c.mu.Lock()
	c.snap, c.items, c.version, c.sortedOK = snap, items, s.Version, false
	c.mu.Unlock()
	c.ready.Store(true)
	e.rebuild.Observe(time.Since(start).Seconds())
	e.mu.Lock()
	e.loaded.Set(float64(len(e.companies)))
	e.mu.Unlock()
	e.log.Debug("company loaded", zap.Int64("company_id", id), zap.Int64("version", s.Version),
		zap.Int("users", len(s.Company.Users)), zap.Int("items", len(s.Items)), zap.Duration("took", time.Since(start)))
	return c, nil
}

// Refresh brings a loaded company up to the newest version in PostgreSQL.
// A company not loaded here is left alone (it loads fresh on first use).
func (e *Engine) Refresh(ctx context.Context, companyID int64) error {
	e.mu.RLock()
	c, ok := e.companies[companyID]
	e.mu.RUnlock()
	if !ok {
		return nil
	}
	c.refresh.Lock()
	defer c.refresh.Unlock()
	if !c.ready.Load() {
		return nil // being loaded by another caller, who will read the newest
	}
	c.mu.RLock()
	since := c.version
	c.mu.RUnlock()

	start := time.Now()
	d, ok, err := e.store.LoadDelta(ctx, companyID, since)
	if errors.Is(err, store.ErrCompanyNotFound) {
		e.forget(companyID)
		return err
	}
	if err != nil {
		return err
	}
	if !ok {
		e.forget(companyID)
		_, err := e.company(ctx, companyID)
		return err
	}
	if d.Version <= since {
		return nil
	}
	var snap *policy.Snapshot
	if d.Structure != nil {
		if snap, err = policy.Build(*d.Structure); err != nil {
			return fmt.Errorf("company %d: %w", companyID, err)
		}
	}
	c.mu.Lock()
	if snap != nil {
		c.snap = snap
	}
	for i := range d.Items {
		ch := &d.Items[i]
		k := key{ch.Type, ch.ID}
		if ch.Deleted {
			delete(c.items, k)
		} else {
			c.items[k] = &ch.Item // a new pointer: readers holding the old item keep a consistent copy
		}
	}
	if len(d.Items) > 0 {
		c.sortedOK = false
	}
	// c.version is still since: only loads and refreshes set it, and both
	// hold c.refresh, which this refresh has held since reading it.
	e.applied.Add(float64(d.Version - since))
	c.version = d.Version
	c.mu.Unlock()
	e.rebuild.Observe(time.Since(start).Seconds())
	return nil
}

func (e *Engine) forget(companyID int64) {
	e.mu.Lock()
	delete(e.companies, companyID)
	e.loaded.Set(float64(len(e.companies)))
	e.mu.Unlock()
}

// loadedIDs returns the ids of the companies in memory.
func (e *Engine) loadedIDs() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]int64, 0, len(e.companies))
	for id := range e.companies {
		ids = append(ids, id)
	}
	return ids
}

// Listen follows NOTIFY visibility_changes until ctx ends, refreshing loaded
// companies that another replica changed. After a lost connection it
// reconnects with backoff and refreshes every loaded company, so missed
// notifications cost a round trip, never a stale answer for a named version.
func (e *Engine) Listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := e.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("change listener lost its connection; reconnecting", zap.Error(err), zap.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (e *Engine) listenOnce(ctx context.Context) error {
	conn, err := e.store.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{store.NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it first.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = conn.Exec(uctx, "UNLISTEN *")
		cancel()
	}()
	// Catch up on anything missed while not listening.
	for _, id := range e.loadedIDs() {
		if err := e.Refresh(ctx, id); err != nil && !errors.Is(err, store.ErrCompanyNotFound) {
			return err
		}
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		companyID, version, ok := store.ParseNotification(n.Payload)
		if !ok {
			continue
		}
		e.mu.RLock()
		c, loaded := e.companies[companyID]
		e.mu.RUnlock()
		if !loaded {
			continue
		}
		c.mu.RLock()
		behind := c.version < version
		c.mu.RUnlock()
		if behind {
			if err := e.Refresh(ctx, companyID); err != nil && !errors.Is(err, store.ErrCompanyNotFound) {
				e.log.Warn("refresh after notification failed", zap.Int64("company_id", companyID), zap.Error(err))
			}
		}
	}
}
