package store

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// Snapshot is everything the engine holds for one company at one version.
type Snapshot struct {
	Version int64
	Company policy.Company
	Items   []policy.Item
}

// Delta is what changed after a version: a new structure (nil when none
// changed) and the current rows of changed items (Deleted when gone).
type Delta struct {
	Version   int64
	Structure *policy.Company
	Items     []ItemChange
}

// ItemChange is one changed registry item.
type ItemChange struct {
	Type    policy.ItemType
	ID      int64
	Deleted bool
	Item    policy.Item
}

// readOnly runs fn in a REPEATABLE READ read-only transaction, so that
// everything it reads is the state at one version.
func (s *Store) readOnly(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func companyVersion(ctx context.Context, tx pgx.Tx, companyID int64) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `SELECT version FROM companies WHERE id = $1`, companyID).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrCompanyNotFound
	}
	return v, err
}

// LoadSnapshot reads a company's whole visibility data.
func (s *Store) LoadSnapshot(ctx context.Context, companyID int64) (*Snapshot, error) {
	out := &Snapshot{}
	err := s.readOnly(ctx, func(tx pgx.Tx) error {
		var err error
		if out.Version, err = companyVersion(ctx, tx, companyID); err != nil {
			return err
		}
		if out.Company, err = loadStructure(ctx, tx, companyID); err != nil {
			return err
		}
		out.Items, err = loadPolicyItems(ctx, tx, `SELECT type, id, owner_id, visible_to, coalesce(pipeline_id, 0), follower_ids
			FROM items WHERE company_id = $1`, companyID)
		return err
	})
	return out, err
}

// LoadDelta reads what changed after version since. When the change log does
// not reach back to since (ok false), the caller must LoadSnapshot instead.
func (s *Store) LoadDelta(ctx context.Context, companyID, since int64) (d *Delta, ok bool, err error) {
	d = &Delta{}
	err = s.readOnly(ctx, func(tx pgx.Tx) error {
		if d.Version, err = companyVersion(ctx, tx, companyID); err != nil {
			return err
		}
		if d.Version <= since {
			ok = true
			return nil
		}
		rows, err := tx.Query(ctx, `
			SELECT version, structural, item_types, item_ids FROM changes
			WHERE company_id = $1 AND version > $2 AND version <= $3 ORDER BY version`, companyID, since, d.Version)
		if err != nil {
			return err
		}
		var version, next int64 = 0, since + 1
		var structural bool
		var types []int16
		var ids []int64
		var keyTypes []int16
		var keyIDs []int64
		anyStructural := false
		gap := false
		_, err = pgx.ForEachRow(rows, []any{&version, &structural, &types, &ids}, func() error {
			if version != next {
				gap = true
			}
			next = version + 1
			anyStructural = anyStructural || structural
			keyTypes = append(keyTypes, types...)
			keyIDs = append(keyIDs, ids...)
			return nil
		})
		if err != nil {
			return err
		}
		if gap || next != d.Version+1 {
			return nil // ok stays false: the log was pruned
		}
		ok = true
		if anyStructural {
			c, err := loadStructure(ctx, tx, companyID)
			if err != nil {
				return err
			}
			d.Structure = &c
		}
		if len(keyIDs) == 0 {
			return nil
		}
		items, err := loadPolicyItems(ctx, tx, `
			SELECT type, id, owner_id, visible_to, coalesce(pipeline_id, 0), follower_ids FROM items
			WHERE company_id = $1 AND (type, id) IN (SELECT * FROM unnest($2::smallint[], $3::bigint[]))`,
			companyID, keyTypes, keyIDs)
		if err != nil {
			return err
		}
		present := make(map[itemKey]policy.Item, len(items))
		for _, it := range items {
			present[itemKey{it.Type, it.ID}] = it
		}
		seen := make(map[itemKey]bool, len(keyIDs))
		for i := range keyIDs {
			k := itemKey{policy.ItemType(keyTypes[i]), keyIDs[i]}
			if seen[k] {
				continue
			}
			seen[k] = true
			it, found := present[k]
			d.Items = append(d.Items, ItemChange{Type: k.typ, ID: k.id, Deleted: !found, Item: it})
		}
		return nil
	})
	return d, ok, err
}

func loadStructure(ctx context.Context, tx pgx.Tx, companyID int64) (policy.Company, error) {
	var c policy.Company
	var plan int16
	if err := tx.QueryRow(ctx, `SELECT plan, extra_groups FROM companies WHERE id = $1`, companyID).Scan(&plan, &c.ExtraGroups); err != nil {
		return c, err
	}
	c.Plan = policy.Plan(plan)

	rows, err := tx.Query(ctx, `SELECT id, coalesce(parent_id, 0), is_default FROM groups WHERE company_id = $1 ORDER BY id`, companyID)
	if err != nil {
		return c, err
	}
	var g policy.Group
	if _, err := pgx.ForEachRow(rows, []any{&g.ID, &g.Parent, &g.Default}, func() error {
		c.Groups = append(c.Groups, g)
		return nil
	}); err != nil {
		return c, err
	}

	rows, err = tx.Query(ctx, `
		SELECT id, group_id, active, app_admin, deal_admin, global_admin, account_settings, change_visibility
		FROM users WHERE company_id = $1 ORDER BY id`, companyID)
	if err != nil {
		return c, err
	}
	var u policy.User
	if _, err := pgx.ForEachRow(rows, []any{&u.ID, &u.Group, &u.Active, &u.Perms.AppAdmin, &u.Perms.DealAdmin,
		&u.Perms.GlobalAdmin, &u.Perms.AccountSettings, &u.Perms.ChangeVisibility}, func() error {
		c.Users = append(c.Users, u)
		return nil
	}); err != nil {
		return c, err
	}

	rows, err = tx.Query(ctx, `SELECT group_id, pipeline_id FROM group_hidden_pipelines WHERE company_id = $1 ORDER BY 1, 2`, companyID)
	if err != nil {
		return c, err
	}
	var gid policy.GroupID
	var pid policy.PipelineID
	c.Hidden = map[policy.GroupID][]policy.PipelineID{}
	_, err = pgx.ForEachRow(rows, []any{&gid, &pid}, func() error {
		c.Hidden[gid] = append(c.Hidden[gid], pid)
		return nil
	})
	return c, err
}

func loadPolicyItems(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]policy.Item, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []policy.Item
	var typ, vt int16
	var it policy.Item
	var followers []int64
	_, err = pgx.ForEachRow(rows, []any{&typ, &it.ID, &it.Owner, &vt, &it.Pipeline, &followers}, func() error {
		it.Type, it.VisibleTo = policy.ItemType(typ), policy.VisibleTo(vt)
		it.Followers = make([]policy.UserID, len(followers))
		for i, f := range followers {
			it.Followers[i] = policy.UserID(f)
		}
		slices.Sort(it.Followers)
		out = append(out, it)
		return nil
	})
	return out, err
}
