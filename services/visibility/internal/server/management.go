package server

import (
	"context"
	"crypto/sha256"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/sightline/sightline/pkg/aip"
	"github.com/sightline/sightline/pkg/apierr"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/store"
)

// wrote brings this replica's state up to a write it just made, so the caller
// reads its own write here even without min_version. A failure is harmless:
// the write is committed, and decisions that name its version refresh again.
func (s *Server) wrote(ctx context.Context, companyID int64) {
	_ = s.engine.Refresh(ctx, companyID)
}

func planFrom(field string, p visibilityv1.Plan) (policy.Plan, error) {
	if !policy.Plan(p).Valid() {
		return 0, apierr.InvalidArgument(apierr.Field(field, "must be PLAN_ESSENTIAL, _ADVANCED, _PROFESSIONAL, _POWER or _ENTERPRISE"))
	}
	return policy.Plan(p), nil
}

func extraFrom(field string, n int32) (int, error) {
	if n < 0 || n > 100000 {
		return 0, apierr.InvalidArgument(apierr.Field(field, "must be between 0 and 100000"))
	}
	return int(n), nil
}

// CreateCompany sets up the caller's company.
func (s *Server) CreateCompany(ctx context.Context, req *visibilityv1.CreateCompanyRequest) (*visibilityv1.CreateCompanyResponse, error) {
	p := caller(ctx)
	if err := requireService(p); err != nil {
		return nil, err
	}
	plan, err := planFrom("plan", req.GetPlan())
	if err != nil {
		return nil, err
	}
	extra, err := extraFrom("extra_groups", req.GetExtraGroups())
	if err != nil {
		return nil, err
	}
	c, err := s.store.CreateCompany(ctx, p.CompanyID, plan, extra)
	if err != nil {
		return nil, mapErr(err)
	}
	return &visibilityv1.CreateCompanyResponse{Company: companyPB(c), Version: c.Version}, nil
}

// GetCompany returns the caller's company.
func (s *Server) GetCompany(ctx context.Context, _ *visibilityv1.GetCompanyRequest) (*visibilityv1.GetCompanyResponse, error) {
	c, err := s.store.Company(ctx, caller(ctx).CompanyID)
	if err != nil {
		return nil, mapErr(err)
	}
	return &visibilityv1.GetCompanyResponse{Company: companyPB(c)}, nil
}

// UpdateCompany changes plan and extra groups (V4: nothing is deleted).
func (s *Server) UpdateCompany(ctx context.Context, req *visibilityv1.UpdateCompanyRequest) (*visibilityv1.UpdateCompanyResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	paths, err := aip.MaskPaths(req.GetUpdateMask(), "plan", "extra_groups")
	if err != nil {
		return nil, err
	}
	var plan *policy.Plan
	var extra *int
	if paths["plan"] {
		v, err := planFrom("company.plan", req.GetCompany().GetPlan())
		if err != nil {
			return nil, err
		}
		plan = &v
	}
	if paths["extra_groups"] {
		v, err := extraFrom("company.extra_groups", req.GetCompany().GetExtraGroups())
		if err != nil {
			return nil, err
		}
		extra = &v
	}
	c, err := s.store.UpdateCompany(ctx, p.CompanyID, plan, extra)
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.UpdateCompanyResponse{Company: companyPB(c), Version: c.Version}, nil
}

// UpsertUser creates or updates a user (membership is left alone).
func (s *Server) UpsertUser(ctx context.Context, req *visibilityv1.UpsertUserRequest) (*visibilityv1.UpsertUserResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	u := req.GetUser()
	if err := violations(positive("user.id", u.GetId()), validName("user.name", u.GetName(), false),
		validName("user.email", u.GetEmail(), false)); err != nil {
		return nil, err
	}
	pp := u.GetPermissions()
	in := store.User{ID: u.GetId(), Name: u.GetName(), Email: u.GetEmail(), Active: u.GetActive(),
		Perms: policy.Permissions{AppAdmin: pp.GetAppAdmin(), DealAdmin: pp.GetDealAdmin(), GlobalAdmin: pp.GetGlobalAdmin(),
			AccountSettings: pp.GetAccountSettings(), ChangeVisibility: pp.GetChangeVisibility()}}
	out, created, version, err := s.store.UpsertUser(ctx, p.CompanyID, in)
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.UpsertUserResponse{User: userPB(out), Created: created, Version: version}, nil
}

// GetUser returns a user: any user to managers, a user itself to that user.
func (s *Server) GetUser(ctx context.Context, req *visibilityv1.GetUserRequest) (*visibilityv1.GetUserResponse, error) {
	p := caller(ctx)
	if err := violations(positive("user_id", req.GetUserId())); err != nil {
		return nil, err
	}
	if !(p.IsUser() && p.UserID == req.GetUserId()) {
		if err := s.requireManager(ctx, p); err != nil {
			return nil, mapErr(err)
		}
	}
	u, err := s.store.User(ctx, p.CompanyID, req.GetUserId())
	if err != nil {
		return nil, mapErr(err)
	}
	return &visibilityv1.GetUserResponse{User: userPB(u)}, nil
}

// ListUsers pages through users by id.
func (s *Server) ListUsers(ctx context.Context, req *visibilityv1.ListUsersRequest) (*visibilityv1.ListUsersResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	bind := "users/group=" + itoa(req.GetGroupId())
	size, after, err := pageAfter(req.GetPageSize(), req.GetPageToken(), bind)
	if err != nil {
		return nil, err
	}
	users, err := s.store.ListUsers(ctx, p.CompanyID, req.GetGroupId(), after, size+1)
	if err != nil {
		return nil, mapErr(err)
	}
	resp := &visibilityv1.ListUsersResponse{}
	if len(users) > size {
		users = users[:size]
		resp.NextPageToken = aip.EncodePageToken(bind, users[size-1].ID)
	}
	for _, u := range users {
		resp.Users = append(resp.Users, userPB(u))
	}
	return resp, nil
}

// DeactivateUser makes a user see nothing.
func (s *Server) DeactivateUser(ctx context.Context, req *visibilityv1.DeactivateUserRequest) (*visibilityv1.DeactivateUserResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	if err := violations(positive("user_id", req.GetUserId())); err != nil {
		return nil, err
	}
	u, version, err := s.store.DeactivateUser(ctx, p.CompanyID, req.GetUserId())
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.DeactivateUserResponse{User: userPB(u), Version: version}, nil
}

// CreateGroup creates a group within the plan's limit (V4).
func (s *Server) CreateGroup(ctx context.Context, req *visibilityv1.CreateGroupRequest) (*visibilityv1.CreateGroupResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	g := req.GetGroup()
	var parentV *apierr.FieldViolation
	if g.GetParentId() < 0 {
		parentV = &apierr.FieldViolation{Field: "group.parent_id", Description: "must be 0 (top-level) or a group id"}
	}
	if err := violations(validName("group.name", g.GetName(), true), parentV, validName("request_id", req.GetRequestId(), false)); err != nil {
		return nil, err
	}
	// Unset types stay 0: the store gives them the plan's default for new groups.
	defaults, err := defaultsFrom("group.default_visibility", g.GetDefaultVisibility(), [5]policy.VisibleTo{})
	if err != nil {
		return nil, err
	}
	var idem *store.Idempotency
	if req.GetRequestId() != "" {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(g)
		h := sha256.Sum256(b)
		idem = &store.Idempotency{RequestID: req.GetRequestId(), Method: "CreateGroup", Hash: h[:]}
	}
	out, version, err := s.store.CreateGroup(ctx, p.CompanyID, store.Group{Name: g.GetName(), ParentID: g.GetParentId(), Defaults: defaults}, idem)
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.CreateGroupResponse{Group: groupPB(out), Version: version}, nil
}

// GetGroup returns one group.
func (s *Server) GetGroup(ctx context.Context, req *visibilityv1.GetGroupRequest) (*visibilityv1.GetGroupResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	if err := violations(positive("group_id", req.GetGroupId())); err != nil {
		return nil, err
	}
	g, err := s.store.Group(ctx, p.CompanyID, req.GetGroupId())
	if err != nil {
		return nil, mapErr(err)
	}
	return &visibilityv1.GetGroupResponse{Group: groupPB(g)}, nil
}

// ListGroups returns the groups as a forest, the default group first.
func (s *Server) ListGroups(ctx context.Context, _ *visibilityv1.ListGroupsRequest) (*visibilityv1.ListGroupsResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	c, err := s.store.Company(ctx, p.CompanyID)
	if err != nil {
		return nil, mapErr(err)
	}
	groups, err := s.store.Groups(ctx, p.CompanyID)
	if err != nil {
		return nil, mapErr(err)
	}
	nodes := make(map[int64]*visibilityv1.GroupNode, len(groups))
	for _, g := range groups {
		nodes[g.ID] = &visibilityv1.GroupNode{Group: groupPB(g)}
	}
	resp := &visibilityv1.ListGroupsResponse{Version: c.Version}
	for _, g := range groups { // by id, so children come out in creation order
		n := nodes[g.ID]
		if parent, ok := nodes[g.ParentID]; ok {
			parent.Children = append(parent.Children, n)
		} else {
			resp.Roots = append(resp.Roots, n)
		}
	}
	slices.SortStableFunc(resp.Roots, func(a, b *visibilityv1.GroupNode) int {
		switch {
		case a.Group.IsDefault == b.Group.IsDefault:
			return 0
		case a.Group.IsDefault:
			return -1
		}
		return 1
	})
	return resp, nil
}

// UpdateGroup renames, moves or changes default visibility.
func (s *Server) UpdateGroup(ctx context.Context, req *visibilityv1.UpdateGroupRequest) (*visibilityv1.UpdateGroupResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	g := req.GetGroup()
	if err := violations(positive("group.id", g.GetId())); err != nil {
		return nil, err
	}
	paths, err := aip.MaskPaths(req.GetUpdateMask(), "name", "parent_id", "default_visibility")
	if err != nil {
		return nil, err
	}
	var u store.GroupUpdate
	if paths["name"] {
		if err := violations(validName("group.name", g.GetName(), true)); err != nil {
			return nil, err
		}
		name := g.GetName()
		u.Name = &name
	}
	if paths["parent_id"] {
		if g.GetParentId() < 0 {
			return nil, apierr.InvalidArgument(apierr.Field("group.parent_id", "must be 0 (top-level) or a group id"))
		}
		parent := g.GetParentId()
		u.ParentID = &parent
	}
	if paths["default_visibility"] {
		cur, err := s.store.Group(ctx, p.CompanyID, g.GetId())
		if err != nil {
			return nil, mapErr(err)
		}
		d, err := defaultsFrom("group.default_visibility", g.GetDefaultVisibility(), cur.Defaults)
		if err != nil {
			return nil, err
		}
		u.Defaults = &d
	}
	out, version, err := s.store.UpdateGroup(ctx, p.CompanyID, g.GetId(), u)
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.UpdateGroupResponse{Group: groupPB(out), Version: version}, nil
}

// DeleteGroup deletes a group (V1).
func (s *Server) DeleteGroup(ctx context.Context, req *visibilityv1.DeleteGroupRequest) (*visibilityv1.DeleteGroupResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	if err := violations(positive("group_id", req.GetGroupId())); err != nil {
		return nil, err
	}
	members, subgroups, version, err := s.store.DeleteGroup(ctx, p.CompanyID, req.GetGroupId(), req.GetMoveMembersAndSubgroups())
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.DeleteGroupResponse{Version: version, MovedMembers: int32(members), MovedSubgroups: int32(subgroups)}, nil
}

// SetUserGroup puts a user in a group.
func (s *Server) SetUserGroup(ctx context.Context, req *visibilityv1.SetUserGroupRequest) (*visibilityv1.SetUserGroupResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	if err := violations(positive("user_id", req.GetUserId()), positive("group_id", req.GetGroupId())); err != nil {
		return nil, err
	}
	u, version, err := s.store.SetUserGroup(ctx, p.CompanyID, req.GetUserId(), req.GetGroupId())
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.SetUserGroupResponse{User: userPB(u), Version: version}, nil
}

// RemoveUserFromGroup moves a user back to the default group (V1).
func (s *Server) RemoveUserFromGroup(ctx context.Context, req *visibilityv1.RemoveUserFromGroupRequest) (*visibilityv1.RemoveUserFromGroupResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	if err := violations(positive("user_id", req.GetUserId())); err != nil {
		return nil, err
	}
	u, version, err := s.store.SetUserGroup(ctx, p.CompanyID, req.GetUserId(), 0)
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.RemoveUserFromGroupResponse{User: userPB(u), Version: version}, nil
}

// UpsertPipeline creates or renames a pipeline.
func (s *Server) UpsertPipeline(ctx context.Context, req *visibilityv1.UpsertPipelineRequest) (*visibilityv1.UpsertPipelineResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	pl := req.GetPipeline()
	if err := violations(positive("pipeline.id", pl.GetId()), validName("pipeline.name", pl.GetName(), false)); err != nil {
		return nil, err
	}
	created, version, err := s.store.UpsertPipeline(ctx, p.CompanyID, store.Pipeline{ID: pl.GetId(), Name: pl.GetName()})
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.UpsertPipelineResponse{Pipeline: &visibilityv1.Pipeline{Id: pl.GetId(), Name: pl.GetName()},
		Created: created, Version: version}, nil
}

// DeletePipeline deletes a pipeline.
func (s *Server) DeletePipeline(ctx context.Context, req *visibilityv1.DeletePipelineRequest) (*visibilityv1.DeletePipelineResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	if err := violations(positive("pipeline_id", req.GetPipelineId())); err != nil {
		return nil, err
	}
	version, err := s.store.DeletePipeline(ctx, p.CompanyID, req.GetPipelineId())
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	return &visibilityv1.DeletePipelineResponse{Version: version}, nil
}

// UpdateGroupPipelines shows and hides pipelines for a group (V7).
func (s *Server) UpdateGroupPipelines(ctx context.Context, req *visibilityv1.UpdateGroupPipelinesRequest) (*visibilityv1.UpdateGroupPipelinesResponse, error) {
	p := caller(ctx)
	if err := s.requireManager(ctx, p); err != nil {
		return nil, mapErr(err)
	}
	ch := req.GetVisiblePipelineIds()
	vs := []*apierr.FieldViolation{positive("group_id", req.GetGroupId())}
	for _, id := range ch.GetAdd() {
		vs = append(vs, positive("visible_pipeline_ids.add", id))
	}
	for _, id := range ch.GetRemove() {
		vs = append(vs, positive("visible_pipeline_ids.remove", id))
		if slices.Contains(ch.GetAdd(), id) {
			vs = append(vs, &apierr.FieldViolation{Field: "visible_pipeline_ids", Description: "a pipeline is both added and removed"})
		}
	}
	if len(ch.GetAdd())+len(ch.GetRemove()) > MaxBatch {
		vs = append(vs, &apierr.FieldViolation{Field: "visible_pipeline_ids", Description: "at most 1000 changes"})
	}
	if err := violations(vs...); err != nil {
		return nil, err
	}
	visible, version, err := s.store.UpdateGroupPipelines(ctx, p.CompanyID, req.GetGroupId(), ch.GetAdd(), ch.GetRemove())
	if err != nil {
		return nil, mapErr(err)
	}
	s.wrote(ctx, p.CompanyID)
	g, err := s.store.Group(ctx, p.CompanyID, req.GetGroupId())
	if err != nil {
		return nil, mapErr(err)
	}
	return &visibilityv1.UpdateGroupPipelinesResponse{Group: groupPB(g), VisiblePipelineIds: visible, Version: version}, nil
}

// ListPipelines lists all pipelines (managers) or those a user can see (V7).
func (s *Server) ListPipelines(ctx context.Context, req *visibilityv1.ListPipelinesRequest) (*visibilityv1.ListPipelinesResponse, error) {
	p := caller(ctx)
	if req.GetUserId() == 0 {
		if err := s.requireManager(ctx, p); err != nil {
			return nil, mapErr(err)
		}
	}
	all, err := s.store.Pipelines(ctx, p.CompanyID)
	if err != nil {
		return nil, mapErr(err)
	}
	v, err := s.engine.View(ctx, p.CompanyID, 0)
	if err != nil {
		return nil, mapErr(err)
	}
	defer v.Release()
	resp := &visibilityv1.ListPipelinesResponse{Version: v.Version}
	var hidden []policy.PipelineID
	if req.GetUserId() != 0 {
		subj, err := subject(p, req.GetUserId())
		if err != nil {
			return nil, err
		}
		u, ok := v.Snap.User(subj)
		if !ok {
			return nil, notFoundErr(store.ErrUserNotFound, int64(subj))
		}
		if !u.Active {
			return resp, nil
		}
		if !u.Perms.DealAdmin && !u.Perms.AppAdmin {
			hidden = v.Snap.HiddenFor(u.Group)
		}
	}
	for _, pl := range all {
		if !slices.Contains(hidden, policy.PipelineID(pl.ID)) {
			resp.Pipelines = append(resp.Pipelines, &visibilityv1.Pipeline{Id: pl.ID, Name: pl.Name})
		}
	}
	return resp, nil
}
