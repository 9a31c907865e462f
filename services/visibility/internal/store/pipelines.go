package store

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Pipeline is a deal pipeline.
type Pipeline struct {
	ID   int64
	Name string
}

// UpsertPipeline creates or renames a pipeline; every group sees a new pipeline (V7).
func (s *Store) UpsertPipeline(ctx context.Context, companyID int64, p Pipeline) (bool, int64, error) {
	var created bool
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		var name string
		err := w.QueryRow(ctx, `SELECT name FROM pipelines WHERE company_id = $1 AND id = $2`, companyID, p.ID).Scan(&name)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			created = true
			_, err = w.Exec(ctx, `INSERT INTO pipelines (company_id, id, name) VALUES ($1, $2, $3)`, companyID, p.ID, p.Name)
		case err == nil && name != p.Name:
			_, err = w.Exec(ctx, `UPDATE pipelines SET name = $3, update_time = now() WHERE company_id = $1 AND id = $2`, companyID, p.ID, p.Name)
		case err == nil:
			return nil
		}
		if err == nil {
			w.markStructural()
		}
		return err
	})
	return created, version, err
}

// DeletePipeline deletes a pipeline and its hidden-for-group entries. Deals
// registered in it stay registered.
func (s *Store) DeletePipeline(ctx context.Context, companyID, id int64) (int64, error) {
	return s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		tag, err := w.Exec(ctx, `DELETE FROM pipelines WHERE company_id = $1 AND id = $2`, companyID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound(ErrPipelineNotFound, id)
		}
		w.markStructural()
		return nil
	})
}

// Pipelines returns every pipeline of the company, by id.
func (s *Store) Pipelines(ctx context.Context, companyID int64) ([]Pipeline, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name FROM pipelines WHERE company_id = $1 ORDER BY id`, companyID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Pipeline])
}

// UpdateGroupPipelines makes pipelines visible (show) or hidden (hide) for a
// group and returns the pipelines it sees afterwards. Hiding every pipeline
// that exists is refused (V7).
func (s *Store) UpdateGroupPipelines(ctx context.Context, companyID, groupID int64, show, hide []int64) ([]int64, int64, error) {
	var visible []int64
	version, err := s.write(ctx, companyID, func(ctx context.Context, w *wtx) error {
		if err := groupExists(ctx, w, groupID); err != nil {
			return err
		}
		all, err := queryIDs(ctx, w, `SELECT id FROM pipelines WHERE company_id = $1 ORDER BY id`, companyID)
		if err != nil {
			return err
		}
		for _, id := range append(slices.Clone(show), hide...) {
			if _, ok := slices.BinarySearch(all, id); !ok {
				return notFound(ErrPipelineNotFound, id)
			}
		}
		hidden, err := queryIDs(ctx, w, `
			SELECT pipeline_id FROM group_hidden_pipelines WHERE company_id = $1 AND group_id = $2`, companyID, groupID)
		if err != nil {
			return err
		}
		isHidden := map[int64]bool{}
		for _, id := range hidden {
			isHidden[id] = true
		}
		before := len(isHidden)
		for _, id := range show {
			delete(isHidden, id)
		}
		for _, id := range hide {
			isHidden[id] = true
		}
		visible = visible[:0]
		for _, id := range all {
			if !isHidden[id] {
				visible = append(visible, id)
			}
		}
		if len(visible) == 0 && len(all) > 0 {
			return ErrLastVisiblePipeline
		}
		changed := len(isHidden) != before
		for _, id := range hidden {
			if !isHidden[id] {
				changed = true
			}
		}
		if !changed {
			return nil
		}
		if _, err := w.Exec(ctx, `DELETE FROM group_hidden_pipelines WHERE company_id = $1 AND group_id = $2`, companyID, groupID); err != nil {
			return err
		}
		newHidden := make([]int64, 0, len(isHidden))
		for id := range isHidden {
			newHidden = append(newHidden, id)
		}
		if _, err := w.Exec(ctx, `
			INSERT INTO group_hidden_pipelines (company_id, group_id, pipeline_id) SELECT $1, $2, unnest($3::bigint[])`,
			companyID, groupID, newHidden); err != nil {
			return err
		}
		w.markStructural()
		return nil
	})
	return visible, version, err
}

// queryIDs returns the single bigint column of a query.
func queryIDs(ctx context.Context, w *wtx, sql string, args ...any) ([]int64, error) {
	rows, err := w.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
