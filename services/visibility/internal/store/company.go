package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// Company is a company row with its derived counts.
type Company struct {
	ID             int64
	Plan           policy.Plan
	ExtraGroups    int
	DefaultGroupID int64
	CustomGroups   int
	Version        int64
	CreateTime     time.Time
	UpdateTime     time.Time
}

// DefaultGroupName is the name of the group every company starts with.
const DefaultGroupName = "Default group"

// defaultGroupVisibility: in the default group items are visible to the
// entire company unless set otherwise, as in a CRM with no groups configured.
var defaultGroupVisibility = [5]policy.VisibleTo{
	policy.VisibleToEntireCompany, policy.VisibleToEntireCompany, policy.VisibleToEntireCompany,
	policy.VisibleToEntireCompany, policy.VisibleToEntireCompany,
}

// CreateCompany creates a company with its default group (V1) at version 1.
func (s *Store) CreateCompany(ctx context.Context, id int64, plan policy.Plan, extra int) (Company, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO companies (id, plan, extra_groups) VALUES ($1, $2, $3)`, id, int16(plan), extra)
		if pg.IsUniqueViolation(err) {
			return ErrCompanyExists
		}
		if err != nil {
			return err
		}
		dv := defaultGroupVisibility
		_, err = tx.Exec(ctx, `
			INSERT INTO groups (company_id, name, is_default, dv_deal, dv_lead, dv_person, dv_organization, dv_product)
			VALUES ($1, $2, true, $3, $4, $5, $6, $7)`,
			id, DefaultGroupName, int16(dv[0]), int16(dv[1]), int16(dv[2]), int16(dv[3]), int16(dv[4]))
		if err != nil {
			return err
		}
		return recordChange(ctx, tx, id, 1, true, nil)
	})
	if err != nil {
		return Company{}, err
	}
	return s.Company(ctx, id)
}

// Company returns a company.
func (s *Store) Company(ctx context.Context, id int64) (Company, error) {
	var c Company
	var plan int16
	err := s.pool.QueryRow(ctx, `
		SELECT c.id, c.plan, c.extra_groups, c.version, c.create_time, c.update_time,
		       (SELECT g.id FROM groups g WHERE g.company_id = c.id AND g.is_default),
		       (SELECT count(*) FROM groups g WHERE g.company_id = c.id AND NOT g.is_default)
		FROM companies c WHERE c.id = $1`, id).
		Scan(&c.ID, &plan, &c.ExtraGroups, &c.Version, &c.CreateTime, &c.UpdateTime, &c.DefaultGroupID, &c.CustomGroups)
	if errors.Is(err, pgx.ErrNoRows) {
		return Company{}, ErrCompanyNotFound
	}
	c.Plan = policy.Plan(plan)
	return c, err
}

// UpdateCompany changes the plan and/or extra groups (nil: unchanged). A
// downgrade deletes nothing (V4).
func (s *Store) UpdateCompany(ctx context.Context, id int64, plan *policy.Plan, extra *int) (Company, error) {
	_, err := s.write(ctx, id, func(ctx context.Context, w *wtx) error {
		p, e := w.plan, w.extra
		if plan != nil {
			p = *plan
		}
		if extra != nil {
			e = *extra
		}
		if p == w.plan && e == w.extra {
			return nil
		}
		if _, err := w.Exec(ctx, `UPDATE companies SET plan = $2, extra_groups = $3 WHERE id = $1`, id, int16(p), e); err != nil {
			return err
		}
		w.markStructural()
		return nil
	})
	if err != nil {
		return Company{}, err
	}
	return s.Company(ctx, id)
}
