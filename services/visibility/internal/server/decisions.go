package server

import (
	"google.golang.org/grpc/codes"

	"context"

	"github.com/sightline/sightline/pkg/aip"
	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/services/visibility/internal/engine"
	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/store"
)

// decisionView resolves the subject and returns a view at min_version.
func (s *Server) decisionView(ctx context.Context, p auth.Principal, userID, minVersion int64) (*engine.View, policy.UserID, error) {
	subj, err := subject(p, userID)
	if err != nil {
		return nil, 0, err
	}
	if err := checkMinVersion(minVersion); err != nil {
		return nil, 0, err
	}
	v, err := s.engine.View(ctx, p.CompanyID, minVersion)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	if _, ok := v.Snap.User(subj); !ok {
		v.Release()
		return nil, 0, notFoundErr(store.ErrUserNotFound, int64(subj))
	}
	return v, subj, nil
}

// CheckAccess decides one item.
func (s *Server) CheckAccess(ctx context.Context, req *visibilityv1.CheckAccessRequest) (*visibilityv1.CheckAccessResponse, error) {
	p := caller(ctx)
	t, id, err := itemRef("item", req.GetItem())
	if err != nil {
		return nil, err
	}
	v, subj, err := s.decisionView(ctx, p, req.GetUserId(), req.GetMinVersion())
	if err != nil {
		return nil, err
	}
	defer v.Release()
	resp := &visibilityv1.CheckAccessResponse{Version: v.Version, Reason: visibilityv1.DecisionReason_DECISION_REASON_ITEM_NOT_FOUND}
	if it := v.Item(t, id); it != nil {
		d := v.Snap.Decide(subj, it)
		resp.Allowed, resp.Reason = d.Allowed, reasonPB(d.Reason, p.IsUser())
	}
	s.decisions.add(resp.Reason, 1)
	return resp, nil
}

// BatchCheckAccess decides up to 1,000 items in one round trip.
func (s *Server) BatchCheckAccess(ctx context.Context, req *visibilityv1.BatchCheckAccessRequest) (*visibilityv1.BatchCheckAccessResponse, error) {
	p := caller(ctx)
	refs := req.GetItems()
	if len(refs) > MaxBatch {
		e := domainErr(codes.InvalidArgument, visibilityv1.ErrorReason_ERROR_REASON_BATCH_TOO_LARGE,
			"at most %d items per call, got %d", MaxBatch, len(refs)).WithMetadata("max", itoa(MaxBatch))
		e.Violations = []apierr.FieldViolation{apierr.Field("items", "at most %d items", MaxBatch)} // AIP-193
		return nil, e
	}
	var vs []*apierr.FieldViolation
	for i, r := range refs {
		if !policy.ItemType(r.GetType()).Valid() || r.GetId() <= 0 {
			vs = append(vs, &apierr.FieldViolation{Field: "items[" + itoa(int64(i)) + "]", Description: "needs a valid type and a positive id"})
		}
	}
	if err := violations(vs...); err != nil {
		return nil, err
	}
	v, subj, err := s.decisionView(ctx, p, req.GetUserId(), req.GetMinVersion())
	if err != nil {
		return nil, err
	}
	defer v.Release()
	toUser := p.IsUser()
	results := make([]visibilityv1.AccessResult, len(refs))
	counts := s.decisions.tally() // decisions by reason, counted once per batch
	resp := &visibilityv1.BatchCheckAccessResponse{Version: v.Version, Results: make([]*visibilityv1.AccessResult, len(refs))}
	for i, r := range refs {
		res := &results[i]
		res.Item = r
		if it := v.Item(policy.ItemType(r.GetType()), r.GetId()); it != nil {
			d := v.Snap.Decide(subj, it)
			res.Allowed, res.Reason = d.Allowed, reasonPB(d.Reason, toUser)
		} else {
			res.Reason = visibilityv1.DecisionReason_DECISION_REASON_ITEM_NOT_FOUND
		}
		resp.Results[i] = res
		if int(res.Reason) < len(counts) {
			counts[res.Reason]++
		}
	}
	for r, n := range counts {
		s.decisions.add(visibilityv1.DecisionReason(r), n)
	}
	return resp, nil
}

// LookupAccessFilter returns the filter a caller applies in its own SQL.
func (s *Server) LookupAccessFilter(ctx context.Context, req *visibilityv1.LookupAccessFilterRequest) (*visibilityv1.LookupAccessFilterResponse, error) {
	p := caller(ctx)
	t, tv := itemType("item_type", req.GetItemType())
	if err := violations(tv); err != nil {
		return nil, err
	}
	v, subj, err := s.decisionView(ctx, p, req.GetUserId(), req.GetMinVersion())
	if err != nil {
		return nil, err
	}
	defer v.Release()
	f := v.Snap.Filter(subj, t)
	resp := &visibilityv1.LookupAccessFilterResponse{
		UserId: int64(subj), ItemType: req.GetItemType(), Denied: f.Denied, SeesAll: f.SeesAll,
		EntireCompany: f.EntireCompany, Version: v.Version,
	}
	for _, pid := range f.HiddenPipelines {
		resp.HiddenPipelineIds = append(resp.HiddenPipelineIds, int64(pid))
	}
	if !f.Denied && !f.SeesAll {
		for i, vt := range [3]visibilityv1.VisibleTo{visibilityv1.VisibleTo_VISIBLE_TO_OWNER,
			visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS} {
			rule := &visibilityv1.OwnerRule{VisibleTo: vt, OwnerIds: make([]int64, len(f.Owners[i]))}
			for j, u := range f.Owners[i] {
				rule.OwnerIds[j] = int64(u)
			}
			resp.OwnerRules = append(resp.OwnerRules, rule)
		}
	}
	return resp, nil
}

// ListAccessibleItems pages through the items of one type a user may see, by id.
func (s *Server) ListAccessibleItems(ctx context.Context, req *visibilityv1.ListAccessibleItemsRequest) (*visibilityv1.ListAccessibleItemsResponse, error) {
	p := caller(ctx)
	t, tv := itemType("item_type", req.GetItemType())
	if err := violations(tv); err != nil {
		return nil, err
	}
	subj, err := subject(p, req.GetUserId())
	if err != nil {
		return nil, err
	}
	bind := "accessible/user=" + itoa(int64(subj)) + "/type=" + itoa(int64(t))
	size, after, err := pageAfter(req.GetPageSize(), req.GetPageToken(), bind)
	if err != nil {
		return nil, err
	}
	if err := checkMinVersion(req.GetMinVersion()); err != nil {
		return nil, err
	}
	v, err := s.engine.ListView(ctx, p.CompanyID, req.GetMinVersion())
	if err != nil {
		return nil, mapErr(err)
	}
	defer v.Release()
	if _, ok := v.Snap.User(subj); !ok {
		return nil, notFoundErr(store.ErrUserNotFound, int64(subj))
	}
	resp := &visibilityv1.ListAccessibleItemsResponse{Version: v.Version}
	for _, it := range v.ItemsAfter(t, after) {
		if !v.Snap.Decide(subj, it).Allowed {
			continue
		}
		if len(resp.Items) == size {
			resp.NextPageToken = aip.EncodePageToken(bind, resp.Items[size-1].Id)
			break
		}
		resp.Items = append(resp.Items, policyItemPB(it))
	}
	return resp, nil
}

// ListItemViewers pages through the users who may see an item, by user id.
func (s *Server) ListItemViewers(ctx context.Context, req *visibilityv1.ListItemViewersRequest) (*visibilityv1.ListItemViewersResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	t, id, err := itemRef("item", req.GetItem())
	if err != nil {
		return nil, err
	}
	bind := "viewers/type=" + itoa(int64(t)) + "/id=" + itoa(id)
	size, after, err := pageAfter(req.GetPageSize(), req.GetPageToken(), bind)
	if err != nil {
		return nil, err
	}
	if err := checkMinVersion(req.GetMinVersion()); err != nil {
		return nil, err
	}
	v, err := s.engine.View(ctx, p.CompanyID, req.GetMinVersion())
	if err != nil {
		return nil, mapErr(err)
	}
	defer v.Release()
	it := v.Item(t, id)
	if it == nil {
		return nil, notFoundErr(store.ErrItemNotFound, id)
	}
	resp := &visibilityv1.ListItemViewersResponse{Version: v.Version}
	for _, u := range v.Snap.Users() { // sorted by id
		if int64(u.ID) <= after {
			continue
		}
		d := v.Snap.Decide(u.ID, it)
		if !d.Allowed {
			continue
		}
		if len(resp.Viewers) == size {
			resp.NextPageToken = aip.EncodePageToken(bind, resp.Viewers[size-1].UserId)
			break
		}
		resp.Viewers = append(resp.Viewers, &visibilityv1.Viewer{UserId: int64(u.ID), Reason: reasons[d.Reason]})
	}
	return resp, nil
}

// ExplainAccess returns the facts behind a decision (V10).
func (s *Server) ExplainAccess(ctx context.Context, req *visibilityv1.ExplainAccessRequest) (*visibilityv1.ExplainAccessResponse, error) {
	p := caller(ctx)
	t, id, err := itemRef("item", req.GetItem())
	if err != nil {
		return nil, err
	}
	v, subj, err := s.decisionView(ctx, p, req.GetUserId(), req.GetMinVersion())
	if err != nil {
		return nil, err
	}
	defer v.Release()
	it := v.Item(t, id)
	if it == nil {
		return &visibilityv1.ExplainAccessResponse{Reason: visibilityv1.DecisionReason_DECISION_REASON_ITEM_NOT_FOUND,
			Facts: []string{t.String() + " " + itoa(id) + " is not in the registry"}, Version: v.Version}, nil
	}
	e := v.Snap.Explain(subj, it)
	if e.Decision.Reason == policy.DenyPipelineHidden && p.IsUser() {
		// A user sees no trace of a hidden pipeline (V7).
		return &visibilityv1.ExplainAccessResponse{Reason: visibilityv1.DecisionReason_DECISION_REASON_ITEM_NOT_FOUND,
			Facts: []string{t.String() + " " + itoa(id) + " is not in the registry"}, Version: v.Version}, nil
	}
	return &visibilityv1.ExplainAccessResponse{Allowed: e.Decision.Allowed, Reason: reasons[e.Decision.Reason],
		Facts: e.Facts, Version: v.Version}, nil
}

// checkMinVersion refuses a negative min_version.
func checkMinVersion(v int64) error {
	if v < 0 {
		return apierr.InvalidArgument(apierr.Field("min_version", "must not be negative"))
	}
	return nil
}

// pageAfter reads an AIP-158 page request whose cursor is one id, bound to
// bind: the page size and the id after which the page starts (0 at first).
func pageAfter(pageSize int32, token, bind string) (size int, after int64, err error) {
	if size, err = aip.PageSize(pageSize, DefaultPageSize, MaxPageSize); err != nil {
		return 0, 0, err
	}
	cursor, err := aip.DecodePageToken(token, bind, 1)
	if err != nil {
		return 0, 0, err
	}
	if cursor != nil {
		after = cursor[0]
	}
	return size, after, nil
}
