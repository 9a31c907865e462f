package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// NotifyChannel is the LISTEN/NOTIFY channel of company changes; the payload is "company_id:version".
const NotifyChannel = "visibility_changes"

// Sentinel errors; the server maps each to a status with its own reason.
var (
	ErrCompanyNotFound        = errors.New("company not found")
	ErrCompanyExists          = errors.New("company already exists")
	ErrUserNotFound           = errors.New("user not found")
	ErrGroupNotFound          = errors.New("group not found")
	ErrPipelineNotFound       = errors.New("pipeline not found")
	ErrItemNotFound           = errors.New("item not found")
	ErrGroupNotEmpty          = errors.New("group has members or subgroups")
	ErrGroupCycle             = errors.New("move would create a cycle")
	ErrDefaultGroupImmutable  = errors.New("the default group cannot be moved or deleted")
	ErrLastVisiblePipeline    = errors.New("hiding the last visible pipeline")
	ErrVisibleToNotInPlan     = errors.New("visible_to not offered by the plan")
	ErrChangeVisibilityDenied = errors.New("acting user may not change visibility")
	ErrRequestIDReused        = errors.New("request id reused for another request")
)

// LimitError reports that creating a group would exceed the plan's allowance (V4).
type LimitError struct {
	Plan   policy.Plan
	Extra  int
	Limit  int
	Custom int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("plan %s with %d extra groups allows %d custom groups; %d exist", e.Plan, e.Extra, e.Limit, e.Custom)
}

// NotFoundError names which id of a kind was not found (wraps the kind's sentinel).
type NotFoundError struct {
	Kind error
	ID   int64
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%v: %d", e.Kind, e.ID) }
func (e *NotFoundError) Unwrap() error { return e.Kind }

func notFound(kind error, id int64) error { return &NotFoundError{Kind: kind, ID: id} }

// Store is the visibility storage.
type Store struct{ pool *pgxpool.Pool }

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool returns the underlying pool (for LISTEN connections).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// itemKey identifies a registry item within a company.
type itemKey struct {
	typ policy.ItemType
	id  int64
}

// wtx is a write transaction on one locked company.
type wtx struct {
	pgx.Tx
	companyID  int64
	plan       policy.Plan
	extra      int
	version    int64
	structural bool
	items      []itemKey
}

func (w *wtx) markStructural() { w.structural = true }

func (w *wtx) markItem(t policy.ItemType, id int64) { w.items = append(w.items, itemKey{t, id}) }

// write runs fn in a transaction holding the company's row lock and, when fn
// changed anything, records a new version. It returns the company version
// after the transaction (unchanged when nothing changed).
func (s *Store) write(ctx context.Context, companyID int64, fn func(ctx context.Context, w *wtx) error) (int64, error) {
	var version int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w := &wtx{Tx: tx, companyID: companyID}
		var plan int16
		err := tx.QueryRow(ctx, `SELECT plan, extra_groups, version FROM companies WHERE id = $1 FOR UPDATE`, companyID).
			Scan(&plan, &w.extra, &w.version)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrCompanyNotFound
		}
		if err != nil {
			return err
		}
		w.plan = policy.Plan(plan)
		if err := fn(ctx, w); err != nil {
			return err
		}
		version = w.version
		if !w.structural && len(w.items) == 0 {
			return nil
		}
		version++
		return recordChange(ctx, tx, companyID, version, w.structural, w.items)
	})
	return version, err
}

func recordChange(ctx context.Context, tx pgx.Tx, companyID, version int64, structural bool, items []itemKey) error {
	types := make([]int16, len(items))
	ids := make([]int64, len(items))
	for i, k := range items {
		types[i], ids[i] = int16(k.typ), k.id
	}
	batch := &pgx.Batch{}
	batch.Queue(`UPDATE companies SET version = $2, update_time = CASE WHEN $3 THEN now() ELSE update_time END WHERE id = $1`,
		companyID, version, structural)
	batch.Queue(`INSERT INTO changes (company_id, version, structural, item_types, item_ids) VALUES ($1, $2, $3, $4, $5)`,
		companyID, version, structural, types, ids)
	batch.Queue(`SELECT pg_notify($1, $2)`, NotifyChannel, strconv.FormatInt(companyID, 10)+":"+strconv.FormatInt(version, 10))
	return tx.SendBatch(ctx, batch).Close()
}

// ParseNotification parses a NOTIFY payload "company_id:version".
func ParseNotification(payload string) (companyID, version int64, ok bool) {
	for i := 0; i < len(payload); i++ {
		if payload[i] == ':' {
			c, err1 := strconv.ParseInt(payload[:i], 10, 64)
			v, err2 := strconv.ParseInt(payload[i+1:], 10, 64)
			return c, v, err1 == nil && err2 == nil
		}
	}
	return 0, 0, false
}
