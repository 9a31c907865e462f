package visibilityclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline/sightline/pkg/auth"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// ItemType is a CRM item kind (the values of visibility's ItemType).
type ItemType int

// Item types the mailbox links threads to.
const (
	Deal         ItemType = 1
	Lead         ItemType = 2
	Person       ItemType = 3
	Organization ItemType = 4
)

// Item names one CRM item of the caller's company.
type Item struct {
	Type ItemType
	ID   int64
}

// ErrUnavailable: visibility could not answer. Show no other user's thread.
var ErrUnavailable = errors.New("visibility unavailable")

// Checker answers whether the calling user (the principal in ctx) can see
// items. The result has one entry per item, in order.
type Checker interface {
	CanSee(ctx context.Context, items []Item) ([]bool, error)
}

// MaxBatch is the most items visibility decides in one call.
const MaxBatch = 1000

// GRPC asks the visibility service over gRPC.
type GRPC struct {
	client  visibilityv1.VisibilityServiceClient
	timeout time.Duration
}

// NewGRPC returns a Checker over conn (see pkg/grpcclient). timeout bounds
// each call (0: the connection's default).
func NewGRPC(conn grpc.ClientConnInterface, timeout time.Duration) *GRPC {
	return &GRPC{client: visibilityv1.NewVisibilityServiceClient(conn), timeout: timeout}
}

// CanSee asks BatchCheckAccess about the calling user (user_id 0, with the
// caller's own token), in batches of MaxBatch.
func (g *GRPC) CanSee(ctx context.Context, items []Item) ([]bool, error) {
	out := make([]bool, len(items))
	if len(items) == 0 {
		return out, nil
	}
	ctx = auth.OutgoingContext(ctx)
	if g.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.timeout)
		defer cancel()
	}
	for start := 0; start < len(items); start += MaxBatch {
		chunk := items[start:min(start+MaxBatch, len(items))]
		req := &visibilityv1.BatchCheckAccessRequest{Items: make([]*visibilityv1.ItemRef, len(chunk))}
		for i, it := range chunk {
			req.Items[i] = &visibilityv1.ItemRef{Type: visibilityv1.ItemType(it.Type), Id: it.ID}
		}
		resp, err := g.client.BatchCheckAccess(ctx, req)
		if err != nil {
			switch status.Code(err) {
			case codes.NotFound, codes.PermissionDenied:
				// The caller is unknown to visibility (or may not ask): sees nothing.
				return make([]bool, len(items)), nil
			}
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if len(resp.GetResults()) != len(chunk) {
			return nil, fmt.Errorf("%w: %d results for %d items", ErrUnavailable, len(resp.GetResults()), len(chunk))
		}
		for i, r := range resp.GetResults() {
			out[start+i] = r.GetAllowed()
		}
	}
	return out, nil
}

// Table is an in-process Checker for tests: a table of which user sees which
// item, plus a switch to simulate an outage.
type Table struct {
	mu      sync.RWMutex
	allowed map[tableKey]bool
	all     map[[2]int64]bool // company, user: sees every item (an admin)
	down    bool
	calls   int
}

type tableKey struct {
	company, user int64
	item          Item
}

// NewTable returns an empty table: nobody sees anything.
func NewTable() *Table {
	return &Table{allowed: map[tableKey]bool{}, all: map[[2]int64]bool{}}
}

// Allow lets a user see items.
func (t *Table) Allow(company, user int64, items ...Item) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range items {
		t.allowed[tableKey{company, user, it}] = true
	}
}

// Deny takes items away from a user.
func (t *Table) Deny(company, user int64, items ...Item) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range items {
		delete(t.allowed, tableKey{company, user, it})
	}
}

// AllowAll lets a user see every item of the company (an app admin).
func (t *Table) AllowAll(company, user int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.all[[2]int64{company, user}] = true
}

// SetDown makes CanSee fail with ErrUnavailable (down) or answer again.
func (t *Table) SetDown(down bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.down = down
}

// Calls returns how many times CanSee was called.
func (t *Table) Calls() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.calls
}

// CanSee answers from the table for the user in ctx; service principals and
// calls without a principal see nothing.
func (t *Table) CanSee(ctx context.Context, items []Item) ([]bool, error) {
	t.mu.Lock()
	t.calls++
	t.mu.Unlock()
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.down {
		return nil, ErrUnavailable
	}
	out := make([]bool, len(items))
	p, ok := auth.FromContext(ctx)
	if !ok || !p.IsUser() {
		return out, nil
	}
	for i, it := range items {
		out[i] = t.all[[2]int64{p.CompanyID, p.UserID}] || t.allowed[tableKey{p.CompanyID, p.UserID, it}]
	}
	return out, nil
}
