package store

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// Group is a group row with its member count and hidden pipelines.
type Group struct {
	ID          int64
	Name        string
	ParentID    int64
	IsDefault   bool
	Defaults    [5]policy.VisibleTo // default visible_to by item type (index type-1)
	Hidden      []int64
	MemberCount int
	CreateTime  time.Time
	UpdateTime  time.Time
}

const groupColumns = `g.id, g.name, coalesce(g.parent_id, 0), g.is_default,
	g.dv_deal, g.dv_lead, g.dv_person, g.dv_organization, g.dv_product,
	coalesce((SELECT array_agg(h.pipeline_id ORDER BY h.pipeline_id) FROM group_hidden_pipelines h
	          WHERE h.company_id = g.company_id AND h.group_id = g.id), '{}'),
	(SELECT count(*) FROM users u WHERE u.company_id = g.company_id AND u.group_id = g.id),
	g.create_time, g.update_time`

func scanGroup(row pgx.Row) (Group, error) {
	var g Group
	var dv [5]int16
	err := row.Scan(&g.ID, &g.Name, &g.ParentID, &g.IsDefault, &dv[0], &dv[1], &dv[2], &dv[3], &dv[4],
		&g.Hidden, &g.MemberCount, &g.CreateTime, &g.UpdateTime)
	for i, v := range dv {
		g.Defaults[i] = policy.VisibleTo(v)
	}
	return g, err
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func queryGroup(ctx context.Context, q querier, companyID, id int64) (Group, error) {
	g, err := scanGroup(q.QueryRow(ctx, `SELECT `+groupColumns+` FROM groups g WHERE g.company_id = $1 AND g.id = $2`, companyID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Group{}, notFound(ErrGroupNotFound, id)
	}
	return g, err
}

func groupExists(ctx context.Context, w *wtx, id int64) error {
	var one int
	err := w.QueryRow(ctx, `SELECT 1 FROM groups WHERE company_id = $1 AND id = $2`, w.companyID, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(ErrGroupNotFound, id)
	}
	return err
}

// Idempotency is an optional AIP-155 request id with the hash of its request.
type Idempotency struct {
	RequestID string
	Method    string
	Hash      []byte
}

// CreateGroup creates a custom group within the plan's limit (V4).
func (s *Store) CreateGroup(ctx context.Context, companyID int64, in Group, idem *Idempotency) (Group, int64, error) {
	var out Group
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		if idem != nil {
			var hash, resp []byte
			err := w.QueryRow(ctx, `SELECT request_hash, response FROM request_ids WHERE company_id = $1 AND request_id = $2`,
				companyID, idem.RequestID).Scan(&hash, &resp)
			if err == nil {
				if !bytes.Equal(hash, idem.Hash) {
					return ErrRequestIDReused
				}
				id, _ := strconv.ParseInt(string(resp), 10, 64)
				out, err = queryGroup(ctx, w, companyID, id)
				return err
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		var custom int
		if err := w.QueryRow(ctx, `SELECT count(*) FROM groups WHERE company_id = $1 AND NOT is_default`, companyID).Scan(&custom); err != nil {
			return err
		}
		if !w.plan.AllowsGroups(w.extra, custom+1) {
			limit, _ := w.plan.GroupLimit(w.extra)
			return &LimitError{Plan: w.plan, Extra: w.extra, Limit: limit, Custom: custom}
		}
		if in.ParentID != 0 {
			if err := groupExists(ctx, w, in.ParentID); err != nil {
				return err
			}
		}
		for i, v := range in.Defaults {
			if v == 0 { // unset: the owner's group when the plan offers it, else the owner only (V4, V5)
				in.Defaults[i] = policy.VisibleToOwnerGroup
				if !w.plan.AllowsVisibleTo(policy.VisibleToOwnerGroup) {
					in.Defaults[i] = policy.VisibleToOwner
				}
			}
		}
		if err := checkDefaultsInPlan(w.plan, in.Defaults); err != nil {
			return err
		}
		var id int64
		err := w.QueryRow(ctx, `
			INSERT INTO groups (company_id, name, parent_id, dv_deal, dv_lead, dv_person, dv_organization, dv_product)
			VALUES ($1, $2, nullif($3, 0::bigint), $4, $5, $6, $7, $8) RETURNING id`,
			companyID, in.Name, in.ParentID, int16(in.Defaults[0]), int16(in.Defaults[1]), int16(in.Defaults[2]),
			int16(in.Defaults[3]), int16(in.Defaults[4])).Scan(&id)
		if err != nil {
			return err
		}
		if idem != nil {
			if _, err := w.Exec(ctx, `
				INSERT INTO request_ids (company_id, request_id, method, request_hash, response) VALUES ($1, $2, $3, $4, $5)`,
				companyID, idem.RequestID, idem.Method, idem.Hash, []byte(strconv.FormatInt(id, 10))); err != nil {
				return err
			}
		}
		w.markStructural()
		out, err = queryGroup(ctx, w, companyID, id)
		return err
	})
	return out, version, err
}

func checkDefaultsInPlan(plan policy.Plan, dv [5]policy.VisibleTo) error {
	for _, v := range dv {
		if !plan.AllowsVisibleTo(v) {
			return ErrVisibleToNotInPlan
		}
	}
	return nil
}

// Group returns one group.
func (s *Store) Group(ctx context.Context, companyID, id int64) (Group, error) {
	return queryGroup(ctx, s.pool, companyID, id)
}

// Groups returns every group of the company, by id.
func (s *Store) Groups(ctx context.Context, companyID int64) ([]Group, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+groupColumns+` FROM groups g WHERE g.company_id = $1 ORDER BY g.id`, companyID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Group, error) { return scanGroup(r) })
}

// GroupUpdate lists the fields to change (nil: unchanged).
type GroupUpdate struct {
	Name     *string
	ParentID *int64
	Defaults *[5]policy.VisibleTo
}

// UpdateGroup renames, moves (refusing cycles, V1) or changes default visibility.
func (s *Store) UpdateGroup(ctx context.Context, companyID, id int64, u GroupUpdate) (Group, int64, error) {
	var out Group
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		cur, err := queryGroup(ctx, w, companyID, id)
		if err != nil {
			return err
		}
		changed := false
		if u.Name != nil && *u.Name != cur.Name {
			if _, err := w.Exec(ctx, `UPDATE groups SET name = $3 WHERE company_id = $1 AND id = $2`, companyID, id, *u.Name); err != nil {
				return err
			}
			changed = true
		}
		if u.ParentID != nil && *u.ParentID != cur.ParentID {
			if cur.IsDefault {
				return ErrDefaultGroupImmutable
			}
			if p := *u.ParentID; p != 0 {
				if err := groupExists(ctx, w, p); err != nil {
					return err
				}
				// A cycle: the new parent is the group itself or one of its descendants.
				var cycle bool
				err := w.QueryRow(ctx, `
					WITH RECURSIVE up(id, parent_id) AS (
					    SELECT id, parent_id FROM groups WHERE company_id = $1 AND id = $3
					    UNION ALL
					    SELECT g.id, g.parent_id FROM groups g JOIN up ON g.company_id = $1 AND g.id = up.parent_id
					)
					SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)`, companyID, id, p).Scan(&cycle)
				if err != nil {
					return err
				}
				if cycle {
					return ErrGroupCycle
				}
			}
			if _, err := w.Exec(ctx, `UPDATE groups SET parent_id = nullif($3, 0::bigint) WHERE company_id = $1 AND id = $2`,
				companyID, id, *u.ParentID); err != nil {
				return err
			}
			w.markStructural()
			changed = true
		}
		if u.Defaults != nil && *u.Defaults != cur.Defaults {
			if err := checkDefaultsInPlan(w.plan, *u.Defaults); err != nil {
				return err
			}
			d := *u.Defaults
			if _, err := w.Exec(ctx, `
				UPDATE groups SET dv_deal = $3, dv_lead = $4, dv_person = $5, dv_organization = $6, dv_product = $7
				WHERE company_id = $1 AND id = $2`,
				companyID, id, int16(d[0]), int16(d[1]), int16(d[2]), int16(d[3]), int16(d[4])); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			if _, err := w.Exec(ctx, `UPDATE groups SET update_time = now() WHERE company_id = $1 AND id = $2`, companyID, id); err != nil {
				return err
			}
			// Names and defaults do not change decisions, but a version lets
			// callers read their own write with min_version.
			w.markStructural()
		}
		out, err = queryGroup(ctx, w, companyID, id)
		return err
	})
	return out, version, err
}

// DeleteGroup deletes a group. With members or subgroups it is refused unless
// move is set: members then go to the default group and subgroups to the
// deleted group's parent (V1).
func (s *Store) DeleteGroup(ctx context.Context, companyID, id int64, move bool) (movedMembers, movedSubgroups int, version int64, err error) {
	version, err = s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		cur, err := queryGroup(ctx, w, companyID, id)
		if err != nil {
			return err
		}
		if cur.IsDefault {
			return ErrDefaultGroupImmutable
		}
		var subgroups int
		if err := w.QueryRow(ctx, `SELECT count(*) FROM groups WHERE company_id = $1 AND parent_id = $2`, companyID, id).Scan(&subgroups); err != nil {
			return err
		}
		if (cur.MemberCount > 0 || subgroups > 0) && !move {
			return ErrGroupNotEmpty
		}
		tag, err := w.Exec(ctx, `
			UPDATE users SET group_id = (SELECT id FROM groups WHERE company_id = $1 AND is_default), update_time = now()
			WHERE company_id = $1 AND group_id = $2`, companyID, id)
		if err != nil {
			return err
		}
		movedMembers = int(tag.RowsAffected())
		tag, err = w.Exec(ctx, `UPDATE groups SET parent_id = nullif($3, 0::bigint), update_time = now()
			WHERE company_id = $1 AND parent_id = $2`, companyID, id, cur.ParentID)
		if err != nil {
			return err
		}
		movedSubgroups = int(tag.RowsAffected())
		if _, err := w.Exec(ctx, `DELETE FROM groups WHERE company_id = $1 AND id = $2`, companyID, id); err != nil {
			return err
		}
		w.markStructural()
		return nil
	})
	return movedMembers, movedSubgroups, version, err
}
