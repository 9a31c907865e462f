package server

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/store"
)

// actingUser is the user an item write is made for (V5, V8): the caller when
// it is a user, else the acting_user_id a service must name.
func actingUser(p auth.Principal, acting int64) (int64, error) {
	if p.IsUser() {
		if acting != 0 && acting != p.UserID {
			return 0, domainErr(codes.PermissionDenied, visibilityv1.ErrorReason_ERROR_REASON_SUBJECT_NOT_CALLER,
				"a user writes items only on its own behalf")
		}
		return p.UserID, nil
	}
	if acting <= 0 {
		e := domainErr(codes.InvalidArgument, visibilityv1.ErrorReason_ERROR_REASON_ACTING_USER_REQUIRED,
			"a service writing items names the user it acts for in acting_user_id").
			WithMetadata("field", "acting_user_id")
		e.Violations = []apierr.FieldViolation{apierr.Field("acting_user_id", "required for service principals")} // AIP-193
		return 0, e
	}
	return acting, nil
}

// checkItem validates one item of a write.
func checkItem(field string, it *visibilityv1.Item) (store.Item, []*apierr.FieldViolation) {
	t, tv := itemType(field+".type", it.GetType())
	vs := []*apierr.FieldViolation{tv, positive(field+".id", it.GetId())}
	if it.GetOwnerId() < 0 {
		vs = append(vs, &apierr.FieldViolation{Field: field + ".owner_id", Description: "must be 0 (the acting user) or a user id"})
	}
	if !validVisibleTo(it.GetVisibleTo(), true) {
		vs = append(vs, &apierr.FieldViolation{Field: field + ".visible_to", Description: "must be 1, 3, 5 or 7 (or unset for the group default)"})
	}
	switch {
	case it.GetPipelineId() < 0:
		vs = append(vs, &apierr.FieldViolation{Field: field + ".pipeline_id", Description: "must be 0 or a pipeline id"})
	case it.GetPipelineId() != 0 && t != policy.ItemTypeDeal:
		vs = append(vs, &apierr.FieldViolation{Field: field + ".pipeline_id", Description: "only deals are in pipelines"})
	}
	return store.Item{Type: t, ID: it.GetId(), OwnerID: it.GetOwnerId(), VisibleTo: policy.VisibleTo(it.GetVisibleTo()),
		PipelineID: it.GetPipelineId()}, vs
}

// requireVisible lets a user principal read or change only items it can see; an item it
// cannot see reads as not found (no "exists but denied").
func (s *Server) requireVisible(ctx context.Context, p auth.Principal, t policy.ItemType, id int64) error {
	if p.IsService() {
		return nil
	}
	v, err := s.engine.View(ctx, p.CompanyID, 0)
	if err != nil {
		return mapErr(err)
	}
	defer v.Release()
	it := v.Item(t, id)
	if it == nil || !v.Snap.Decide(policy.UserID(p.UserID), it).Allowed {
		return notFoundErr(store.ErrItemNotFound, id)
	}
	return nil
}

func (s *Server) upsert(ctx context.Context, p auth.Principal, acting int64, items []*visibilityv1.Item) ([]store.Item, int, int64, error) {
	by, err := actingUser(p, acting)
	if err != nil {
		return nil, 0, 0, err
	}
	in := make([]store.Item, len(items))
	var vs []*apierr.FieldViolation
	field := "item"
	for i, it := range items {
		if len(items) > 1 {
			field = "items[" + itoa(int64(i)) + "]"
		}
		var ivs []*apierr.FieldViolation
		in[i], ivs = checkItem(field, it)
		vs = append(vs, ivs...)
	}
	if err := violations(vs...); err != nil {
		return nil, 0, 0, err
	}
	if p.IsUser() {
		v, err := s.engine.View(ctx, p.CompanyID, 0)
		if err != nil {
			return nil, 0, 0, mapErr(err)
		}
		// A pipeline hidden for the user's group reads as one that does not
		// exist (V7, ERROR_REASON_PIPELINE_NOT_FOUND); deal admins see them all.
		var hidden []policy.PipelineID
		if u, ok := v.Snap.User(policy.UserID(p.UserID)); ok && !u.Perms.DealAdmin && !u.Perms.AppAdmin {
			hidden = v.Snap.HiddenFor(u.Group)
		}
		for _, it := range in {
			if cur := v.Item(it.Type, it.ID); cur != nil && !v.Snap.Decide(policy.UserID(p.UserID), cur).Allowed {
				v.Release()
				return nil, 0, 0, notFoundErr(store.ErrItemNotFound, it.ID)
			}
			if it.PipelineID != 0 && slices.Contains(hidden, policy.PipelineID(it.PipelineID)) {
				v.Release()
				return nil, 0, 0, notFoundErr(store.ErrPipelineNotFound, it.PipelineID)
			}
		}
		v.Release()
	}
	out, created, version, err := s.store.UpsertItems(ctx, p.CompanyID, by, in)
	if err != nil {
		return nil, 0, 0, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return out, created, version, nil
}

// UpsertItem registers or updates one item.
func (s *Server) UpsertItem(ctx context.Context, req *visibilityv1.UpsertItemRequest) (*visibilityv1.UpsertItemResponse, error) {
	out, created, version, err := s.upsert(ctx, caller(ctx), req.GetActingUserId(), []*visibilityv1.Item{req.GetItem()})
	if err != nil {
		return nil, err
	}
	return &visibilityv1.UpsertItemResponse{Item: itemPB(out[0]), Created: created == 1, Version: version}, nil
}

// BatchUpsertItems registers up to 1,000 items in one transaction.
func (s *Server) BatchUpsertItems(ctx context.Context, req *visibilityv1.BatchUpsertItemsRequest) (*visibilityv1.BatchUpsertItemsResponse, error) {
	switch n := len(req.GetItems()); {
	case n == 0:
		return nil, apierr.InvalidArgument(apierr.Field("items", "at least one item"))
	case n > MaxBatch:
		e := domainErr(codes.InvalidArgument, visibilityv1.ErrorReason_ERROR_REASON_BATCH_TOO_LARGE,
			"at most %d items per batch, got %d", MaxBatch, n).WithMetadata("max", itoa(MaxBatch))
		e.Violations = []apierr.FieldViolation{apierr.Field("items", "at most %d items", MaxBatch)} // AIP-193
		return nil, e
	}
	out, created, version, err := s.upsert(ctx, caller(ctx), req.GetActingUserId(), req.GetItems())
	if err != nil {
		return nil, err
	}
	resp := &visibilityv1.BatchUpsertItemsResponse{CreatedCount: int32(created), Version: version}
	for _, it := range out {
		resp.Items = append(resp.Items, itemPB(it))
	}
	return resp, nil
}

// GetItem returns an item's access metadata to a service or a user who can see it.
func (s *Server) GetItem(ctx context.Context, req *visibilityv1.GetItemRequest) (*visibilityv1.GetItemResponse, error) {
	p := caller(ctx)
	t, id, err := itemRef("item", req.GetItem())
	if err != nil {
		return nil, err
	}
	if err := s.requireVisible(ctx, p, t, id); err != nil {
		return nil, err
	}
	it, err := s.store.Item(ctx, p.CompanyID, t, id)
	if err != nil {
		return nil, mapErr(err)
	}
	return &visibilityv1.GetItemResponse{Item: itemPB(it)}, nil
}

// DeleteItem removes an item from the registry.
func (s *Server) DeleteItem(ctx context.Context, req *visibilityv1.DeleteItemRequest) (*visibilityv1.DeleteItemResponse, error) {
	p := caller(ctx)
	t, id, err := itemRef("item", req.GetItem())
	if err != nil {
		return nil, err
	}
	if err := s.requireVisible(ctx, p, t, id); err != nil {
		return nil, err
	}
	version, err := s.store.DeleteItem(ctx, p.CompanyID, t, id)
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.DeleteItemResponse{Version: version}, nil
}

// changeItem is one write to an existing item: the reference must be valid,
// then the handler's own check must pass (checkErr), then a user principal
// must be able to see the item; change runs in the store, and this replica
// is brought up to the write.
func (s *Server) changeItem(ctx context.Context, ref *visibilityv1.ItemRef, checkErr error,
	change func(companyID int64, t policy.ItemType, id int64) (store.Item, int64, error)) (*visibilityv1.Item, int64, error) {
	p := caller(ctx)
	t, id, err := itemRef("item", ref)
	if err != nil {
		return nil, 0, err
	}
	if checkErr != nil {
		return nil, 0, checkErr
	}
	if err := s.requireVisible(ctx, p, t, id); err != nil {
		return nil, 0, err
	}
	it, version, err := change(p.CompanyID, t, id)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return itemPB(it), version, nil
}

// ChangeItemOwner gives an item a new owner (V8).
func (s *Server) ChangeItemOwner(ctx context.Context, req *visibilityv1.ChangeItemOwnerRequest) (*visibilityv1.ChangeItemOwnerResponse, error) {
	it, version, err := s.changeItem(ctx, req.GetItem(), violations(positive("owner_id", req.GetOwnerId())),
		func(c int64, t policy.ItemType, id int64) (store.Item, int64, error) {
			return s.store.ChangeItemOwner(ctx, c, t, id, req.GetOwnerId())
		})
	if err != nil {
		return nil, err
	}
	return &visibilityv1.ChangeItemOwnerResponse{Item: it, Version: version}, nil
}

func followerIDs(ids []int64) error {
	if len(ids) == 0 {
		return apierr.InvalidArgument(apierr.Field("user_ids", "at least one user id"))
	}
	if len(ids) > MaxBatch {
		return apierr.InvalidArgument(apierr.Field("user_ids", "at most 1000 user ids"))
	}
	for _, id := range ids {
		if id <= 0 {
			return apierr.InvalidArgument(apierr.Field("user_ids", "must be positive ids"))
		}
	}
	return nil
}

// AddItemFollowers adds followers.
func (s *Server) AddItemFollowers(ctx context.Context, req *visibilityv1.AddItemFollowersRequest) (*visibilityv1.AddItemFollowersResponse, error) {
	it, version, err := s.changeItem(ctx, req.GetItem(), followerIDs(req.GetUserIds()),
		func(c int64, t policy.ItemType, id int64) (store.Item, int64, error) {
			return s.store.AddItemFollowers(ctx, c, t, id, req.GetUserIds())
		})
	if err != nil {
		return nil, err
	}
	return &visibilityv1.AddItemFollowersResponse{Item: it, Version: version}, nil
}

// RemoveItemFollowers removes followers.
func (s *Server) RemoveItemFollowers(ctx context.Context, req *visibilityv1.RemoveItemFollowersRequest) (*visibilityv1.RemoveItemFollowersResponse, error) {
	it, version, err := s.changeItem(ctx, req.GetItem(), followerIDs(req.GetUserIds()),
		func(c int64, t policy.ItemType, id int64) (store.Item, int64, error) {
			return s.store.RemoveItemFollowers(ctx, c, t, id, req.GetUserIds())
		})
	if err != nil {
		return nil, err
	}
	return &visibilityv1.RemoveItemFollowersResponse{Item: it, Version: version}, nil
}

// ListItemFollowers lists an item's followers.
func (s *Server) ListItemFollowers(ctx context.Context, req *visibilityv1.ListItemFollowersRequest) (*visibilityv1.ListItemFollowersResponse, error) {
	resp, err := s.GetItem(ctx, &visibilityv1.GetItemRequest{Item: req.GetItem()})
	if err != nil {
		return nil, err
	}
	return &visibilityv1.ListItemFollowersResponse{UserIds: resp.GetItem().GetFollowerIds()}, nil
}
