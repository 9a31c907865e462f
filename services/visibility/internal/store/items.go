package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// Item is a registry row.
type Item struct {
	Type       policy.ItemType
	ID         int64
	OwnerID    int64
	VisibleTo  policy.VisibleTo // 0 on input: the owner's group default (new) or unchanged (existing)
	PipelineID int64
	Followers  []int64
	CreateTime time.Time
	UpdateTime time.Time
}

const itemColumns = `type, id, owner_id, visible_to, coalesce(pipeline_id, 0), follower_ids, create_time, update_time`

func scanItem(row pgx.Row) (Item, error) {
	var it Item
	var typ, vt int16
	err := row.Scan(&typ, &it.ID, &it.OwnerID, &vt, &it.PipelineID, &it.Followers, &it.CreateTime, &it.UpdateTime)
	it.Type, it.VisibleTo = policy.ItemType(typ), policy.VisibleTo(vt)
	return it, err
}

type actor struct {
	group int64
	perms policy.Permissions
}

// UpsertItems registers or updates items in one transaction on behalf of the
// acting user: the owner of items given without one (V8), and the one held to
// the "can change visibility" rule (V5). It returns the stored items in input
// order and how many were created.
func (s *Store) UpsertItems(ctx context.Context, companyID, acting int64, in []Item) ([]Item, int, int64, error) {
	var out []Item
	var created int
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		users, err := loadActors(ctx, w)
		if err != nil {
			return err
		}
		actingUser, ok := users[acting]
		if !ok {
			return notFound(ErrUserNotFound, acting)
		}
		defaults, err := loadGroupDefaults(ctx, w)
		if err != nil {
			return err
		}
		pipelines, err := queryIDs(ctx, w, `SELECT id FROM pipelines WHERE company_id = $1 ORDER BY id`, companyID)
		if err != nil {
			return err
		}
		existing, err := loadItems(ctx, w, in)
		if err != nil {
			return err
		}
		canChange := actingUser.perms.ChangeVisibility || actingUser.perms.AppAdmin

		rows := make([]Item, len(in))
		counted := make(map[itemKey]bool, len(in)) // a key given twice is created once
		for i, it := range in {
			if it.OwnerID == 0 {
				it.OwnerID = acting
			}
			owner, ok := users[it.OwnerID]
			if !ok {
				return notFound(ErrUserNotFound, it.OwnerID)
			}
			if it.PipelineID != 0 {
				if _, ok := slices.BinarySearch(pipelines, it.PipelineID); !ok {
					return notFound(ErrPipelineNotFound, it.PipelineID)
				}
			}
			def := defaults[owner.group][it.Type-1]
			if !w.plan.AllowsVisibleTo(def) {
				def = policy.VisibleToOwner // a default left over from a richer plan (V4): the most private value
			}
			cur, exists := existing[itemKey{it.Type, it.ID}]
			switch {
			case it.VisibleTo == 0 && exists:
				it.VisibleTo = cur.VisibleTo
			case it.VisibleTo == 0:
				it.VisibleTo = def
			default:
				changing := !exists || it.VisibleTo != cur.VisibleTo
				// A value kept from a richer plan stays (V4: a downgrade changes
				// nothing); only new values must be offered by the plan.
				if changing && !w.plan.AllowsVisibleTo(it.VisibleTo) {
					return ErrVisibleToNotInPlan
				}
				if changing && it.VisibleTo != def && !canChange {
					return ErrChangeVisibilityDenied
				}
			}
			if k := (itemKey{it.Type, it.ID}); !exists && !counted[k] {
				counted[k] = true
				created++
			}
			rows[i] = it
		}
		// Later duplicates of one key win, as if applied in order.
		types := make([]int16, len(rows))
		ids := make([]int64, len(rows))
		owners := make([]int64, len(rows))
		vts := make([]int16, len(rows))
		pls := make([]int64, len(rows))
		for i, it := range rows {
			types[i], ids[i], owners[i], vts[i], pls[i] = int16(it.Type), it.ID, it.OwnerID, int16(it.VisibleTo), it.PipelineID
		}
		stored, err := w.Query(ctx, `
			INSERT INTO items AS i (company_id, type, id, owner_id, visible_to, pipeline_id)
			SELECT DISTINCT ON (t, id) $1, t, id, o, v, nullif(p, 0::bigint)
			FROM unnest($2::smallint[], $3::bigint[], $4::bigint[], $5::smallint[], $6::bigint[]) WITH ORDINALITY AS x(t, id, o, v, p, n)
			ORDER BY t, id, n DESC
			ON CONFLICT (company_id, type, id) DO UPDATE
			SET owner_id = EXCLUDED.owner_id, visible_to = EXCLUDED.visible_to, pipeline_id = EXCLUDED.pipeline_id,
			    update_time = CASE WHEN (i.owner_id, i.visible_to, i.pipeline_id) IS DISTINCT FROM
			                            (EXCLUDED.owner_id, EXCLUDED.visible_to, EXCLUDED.pipeline_id)
			                       THEN now() ELSE i.update_time END
			RETURNING `+itemColumns, companyID, types, ids, owners, vts, pls)
		if err != nil {
			return err
		}
		byKey := map[itemKey]Item{}
		all, err := pgx.CollectRows(stored, func(r pgx.CollectableRow) (Item, error) { return scanItem(r) })
		if err != nil {
			return err
		}
		for _, it := range all {
			byKey[itemKey{it.Type, it.ID}] = it
			prev, exists := existing[itemKey{it.Type, it.ID}]
			if !exists || prev.OwnerID != it.OwnerID || prev.VisibleTo != it.VisibleTo || prev.PipelineID != it.PipelineID {
				w.markItem(it.Type, it.ID)
			}
		}
		out = make([]Item, len(rows))
		for i, it := range rows {
			out[i] = byKey[itemKey{it.Type, it.ID}]
		}
		return nil
	})
	return out, created, version, err
}

func loadActors(ctx context.Context, w *wtx) (map[int64]actor, error) {
	rows, err := w.Query(ctx, `
		SELECT id, group_id, app_admin, deal_admin, global_admin, account_settings, change_visibility
		FROM users WHERE company_id = $1`, w.companyID)
	if err != nil {
		return nil, err
	}
	out := map[int64]actor{}
	var id int64
	var a actor
	_, err = pgx.ForEachRow(rows, []any{&id, &a.group, &a.perms.AppAdmin, &a.perms.DealAdmin, &a.perms.GlobalAdmin,
		&a.perms.AccountSettings, &a.perms.ChangeVisibility}, func() error {
		out[id] = a
		return nil
	})
	return out, err
}

func loadGroupDefaults(ctx context.Context, w *wtx) (map[int64][5]policy.VisibleTo, error) {
	rows, err := w.Query(ctx, `
		SELECT id, dv_deal, dv_lead, dv_person, dv_organization, dv_product FROM groups WHERE company_id = $1`, w.companyID)
	if err != nil {
		return nil, err
	}
	out := map[int64][5]policy.VisibleTo{}
	var id int64
	var dv [5]int16
	_, err = pgx.ForEachRow(rows, []any{&id, &dv[0], &dv[1], &dv[2], &dv[3], &dv[4]}, func() error {
		out[id] = [5]policy.VisibleTo{policy.VisibleTo(dv[0]), policy.VisibleTo(dv[1]), policy.VisibleTo(dv[2]), policy.VisibleTo(dv[3]), policy.VisibleTo(dv[4])}
		return nil
	})
	return out, err
}

// loadItems returns the existing rows of the given items, locked for update.
func loadItems(ctx context.Context, w *wtx, in []Item) (map[itemKey]Item, error) {
	types := make([]int16, len(in))
	ids := make([]int64, len(in))
	for i, it := range in {
		types[i], ids[i] = int16(it.Type), it.ID
	}
	rows, err := w.Query(ctx, `
		SELECT `+itemColumns+` FROM items
		WHERE company_id = $1 AND (type, id) IN (SELECT * FROM unnest($2::smallint[], $3::bigint[]))
		FOR UPDATE`, w.companyID, types, ids)
	if err != nil {
		return nil, err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) { return scanItem(r) })
	out := make(map[itemKey]Item, len(all))
	for _, it := range all {
		out[itemKey{it.Type, it.ID}] = it
	}
	return out, err
}

// Item returns one registry item.
func (s *Store) Item(ctx context.Context, companyID int64, t policy.ItemType, id int64) (Item, error) {
	it, err := scanItem(s.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE company_id = $1 AND type = $2 AND id = $3`,
		companyID, int16(t), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, notFound(ErrItemNotFound, id)
	}
	return it, err
}

// DeleteItem removes an item from the registry.
func (s *Store) DeleteItem(ctx context.Context, companyID int64, t policy.ItemType, id int64) (int64, error) {
	return s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		tag, err := w.Exec(ctx, `DELETE FROM items WHERE company_id = $1 AND type = $2 AND id = $3`, companyID, int16(t), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound(ErrItemNotFound, id)
		}
		w.markItem(t, id)
		return nil
	})
}

// updateItem applies change to one locked item row and stores the result.
func (s *Store) updateItem(ctx context.Context, companyID int64, t policy.ItemType, id int64, change func(w *wtx, it *Item) error) (Item, int64, error) {
	var out Item
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		cur, err := scanItem(w.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE company_id = $1 AND type = $2 AND id = $3 FOR UPDATE`,
			companyID, int16(t), id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(ErrItemNotFound, id)
		}
		if err != nil {
			return err
		}
		next := cur
		next.Followers = slices.Clone(cur.Followers)
		if err := change(w, &next); err != nil {
			return err
		}
		if next.OwnerID == cur.OwnerID && slices.Equal(next.Followers, cur.Followers) {
			out = cur
			return nil
		}
		out, err = scanItem(w.QueryRow(ctx, `
			UPDATE items SET owner_id = $4, follower_ids = $5, update_time = now()
			WHERE company_id = $1 AND type = $2 AND id = $3 RETURNING `+itemColumns,
			companyID, int16(t), id, next.OwnerID, next.Followers))
		if err == nil {
			w.markItem(t, id)
		}
		return err
	})
	return out, version, err
}

func usersExist(ctx context.Context, w *wtx, ids []int64) error {
	found, err := queryIDs(ctx, w, `SELECT id FROM users WHERE company_id = $1 AND id = ANY($2) ORDER BY id`, w.companyID, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, ok := slices.BinarySearch(found, id); !ok {
			return notFound(ErrUserNotFound, id)
		}
	}
	return nil
}

// ChangeItemOwner gives an item a new owner (V8).
func (s *Store) ChangeItemOwner(ctx context.Context, companyID int64, t policy.ItemType, id, owner int64) (Item, int64, error) {
	return s.updateItem(ctx, companyID, t, id, func(w *wtx, it *Item) error {
		if err := usersExist(ctx, w, []int64{owner}); err != nil {
			return err
		}
		it.OwnerID = owner
		return nil
	})
}

// AddItemFollowers adds followers (V8); they must be users of the company.
func (s *Store) AddItemFollowers(ctx context.Context, companyID int64, t policy.ItemType, id int64, users []int64) (Item, int64, error) {
	return s.updateItem(ctx, companyID, t, id, func(w *wtx, it *Item) error {
		if err := usersExist(ctx, w, users); err != nil {
			return err
		}
		it.Followers = sortedUnion(it.Followers, users)
		return nil
	})
}

// RemoveItemFollowers removes followers; absent ones are ignored.
func (s *Store) RemoveItemFollowers(ctx context.Context, companyID int64, t policy.ItemType, id int64, users []int64) (Item, int64, error) {
	return s.updateItem(ctx, companyID, t, id, func(_ *wtx, it *Item) error {
		it.Followers = slices.DeleteFunc(it.Followers, func(u int64) bool { return slices.Contains(users, u) })
		return nil
	})
}

func sortedUnion(a, b []int64) []int64 {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
