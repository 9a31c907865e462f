package visibility_test

// TestAuthzMatrix_Visibility calls every RPC of the visibility service as
// every kind of caller and checks the status code (and ErrorInfo reason) of
// each cell against the table below. The rows are checked against the
// service descriptor at run time: an RPC without a row fails the test, so a
// new RPC cannot ship without saying who may call it.
//
// Reading the table: each row names its access class, and the class gives
// the expected answer per caller; a row's except map overrides single
// cells. The three unauthenticated columns are the same for every row (the
// auth interceptor answers before any handler).

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/pkg/servicetest/authz"
)

// The visibility service's access classes.
var (
	vAccountSettings  = vr(visibilityv1.ErrorReason_ERROR_REASON_ACCOUNT_SETTINGS_REQUIRED)
	vSubjectNotCaller = vr(visibilityv1.ErrorReason_ERROR_REASON_SUBJECT_NOT_CALLER)

	// V6: groups, memberships, pipeline access and permissions need account
	// settings access (app admins have it); deal and global admins see more
	// items but manage nothing. Another company's admin passes the check in
	// its own company, where the ids of this one do not exist (V9).
	vcSettings = authz.NewClass("company settings: account settings access or a service",
		authz.Denied(vAccountSettings), authz.OK, authz.OK, authz.Denied(vAccountSettings), authz.Denied(vAccountSettings), authz.NFRow, authz.OK, authz.NFRow)
	// The same for calls naming no object of the company: another company's
	// callers get an answer about their own company.
	vcSettingsNoID = authz.NewClass("company settings, no id: account settings access or a service",
		authz.Denied(vAccountSettings), authz.OK, authz.OK, authz.Denied(vAccountSettings), authz.Denied(vAccountSettings), authz.OK, authz.OK, authz.OK)
	vcServiceOnly = authz.NewClass("company set-up: service principals only",
		authz.Denied(errServiceRequired), authz.Denied(errServiceRequired), authz.Denied(errServiceRequired), authz.Denied(errServiceRequired),
		authz.Denied(errServiceRequired), authz.Denied(errServiceRequired),
		authz.Want{Code: codes.AlreadyExists, Reason: errCompanyExists}, authz.Want{Code: codes.AlreadyExists, Reason: errCompanyExists})
	vcMember = authz.NewClass("the caller's own company: any member", authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.OK)
	// Decisions name a subject: a user may ask about itself only, a service
	// about any user of its company.
	vcAboutNamedUser = authz.NewClass("decision about a named user: that user or a service",
		authz.OK, authz.Denied(vSubjectNotCaller), authz.Denied(vSubjectNotCaller), authz.Denied(vSubjectNotCaller), authz.Denied(vSubjectNotCaller),
		authz.Denied(vSubjectNotCaller), authz.OK, authz.NotFound(errUserNotFound))
	vcAboutCaller = authz.NewClass("decision about the caller (user_id omitted): users only",
		authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.Want{Code: codes.InvalidArgument, Reason: reasonInvalidArgument}, authz.Want{Code: codes.InvalidArgument, Reason: reasonInvalidArgument})
	// Item reads and writes: a user must see the item (else NOT_FOUND, never
	// "exists but denied"); services act for the company.
	vcItemPublic = authz.NewClass("item visible to the entire company: every member, services",
		authz.OK, authz.OK, authz.OK, authz.OK, authz.OK, authz.NFRow, authz.OK, authz.NFRow)
	vcItemPrivateDeal = authz.NewClass("deal visible to its owner only: V6 app and deal admins, services",
		authz.NotFound(errItemNotFound), authz.NotFound(errItemNotFound), authz.OK, authz.OK, authz.NotFound(errItemNotFound), authz.NFRow, authz.OK, authz.NFRow)
	vcItemPrivatePerson = authz.NewClass("person visible to its owner only: V6 app and global admins, services",
		authz.NotFound(errItemNotFound), authz.NotFound(errItemNotFound), authz.OK, authz.NotFound(errItemNotFound), authz.OK, authz.NFRow, authz.OK, authz.NFRow)
)

// The fixture of the matrix: company A (the callers' company) and company B
// (the other company). Names carry "alpha"/"bravo" so that responses can be
// scanned for the other company's data.
const (
	coA, coB = int64(101), int64(202)

	uUser, uSettings, uApp, uDeal, uGlobal = int64(11), int64(12), int64(13), int64(14), int64(15)
	uOwner                                 = int64(16) // owns the private items, in group "other"
	uUpsert                                = int64(17) // re-upserted by the UpsertUser row
	uOtherAdmin, uOtherPlain               = int64(21), int64(22)

	pl1, pl2, plUpsert = int64(31), int64(32), int64(33)
	plOther            = int64(41)

	dealPub, dealPriv, personPriv = int64(1001), int64(1002), int64(1003)
	dealOther                     = int64(2001)
)

type vFixture struct {
	e                      *env
	a, b                   *co
	gSales, gOther, gSpare int64 // A's groups
	gBravo                 int64
	ctx                    [authz.NCols]context.Context
	fresh                  atomic.Int64 // ids of objects made for one cell
}

func alphaUser(c *co, id int64, p perms, g int64) {
	c.t.Helper()
	servicetest.Try(c.c.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{
		Id: id, Name: "alpha user " + strconv.FormatInt(id, 10), Email: fmt.Sprintf("u%d@alpha.test", id), Active: true,
		Permissions: p.pb()}})).Must(c.t)
	if g != 0 {
		c.setGroup(id, g)
	}
}

func upsertTarget() *visibilityv1.UpsertUserRequest {
	return &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: uUpsert, Name: "user 17", Email: "u17@example.test", Active: true}}
}

func pipelineTarget() *visibilityv1.UpsertPipelineRequest {
	return &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: plUpsert, Name: "pipeline 33"}}
}

func allVisible(v visibilityv1.VisibleTo) *visibilityv1.DefaultVisibility {
	return &visibilityv1.DefaultVisibility{Deal: v, Lead: v, Person: v, Organization: v, Product: v}
}

func newVFixture(t *testing.T) *vFixture {
	e := start(t)
	f := &vFixture{e: e}
	f.a = newCo(t, e, coA, visibilityv1.Plan_PLAN_ENTERPRISE)
	f.b = newCo(t, e, coB, visibilityv1.Plan_PLAN_ENTERPRISE)
	a, b := f.a, f.b
	f.gSales = a.group("alpha sales", 0, allVisible(vtCompany))
	f.gOther = a.group("alpha other", 0, allVisible(vtOwner))
	f.gSpare = a.group("alpha spare", 0, nil)
	alphaUser(a, uUser, perms{}, f.gSales)
	alphaUser(a, uSettings, perms{settings: true}, 0)
	alphaUser(a, uApp, perms{app: true}, 0)
	alphaUser(a, uDeal, perms{deal: true}, 0)
	alphaUser(a, uGlobal, perms{global: true}, 0)
	alphaUser(a, uOwner, perms{}, f.gOther)
	// The UpsertUser and UpsertPipeline rows re-send these from every
	// column, creating them in the other company: no "alpha" in them.
	servicetest.Try(a.c.UpsertUser(a.svc, upsertTarget())).Must(t)
	servicetest.Try(a.c.UpsertPipeline(a.svc, pipelineTarget())).Must(t)
	for _, p := range []int64{pl1, pl2} {
		servicetest.Try(a.c.UpsertPipeline(a.svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: p, Name: "alpha pipeline"}})).Must(t)
	}
	a.item(uUser, &visibilityv1.Item{Type: deal, Id: dealPub, PipelineId: pl1})
	servicetest.Try(a.c.AddItemFollowers(a.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(deal, dealPub), UserIds: []int64{uOwner}})).Must(t)
	a.item(uOwner, &visibilityv1.Item{Type: deal, Id: dealPriv, PipelineId: pl1})
	a.item(uOwner, &visibilityv1.Item{Type: person, Id: personPriv})

	f.gBravo = b.group("bravo team", 0, allVisible(vtCompany))
	servicetest.Try(b.c.UpsertUser(b.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: uOtherAdmin, Name: "bravo admin",
		Email: "admin@bravo.test", Active: true, Permissions: perms{app: true, settings: true}.pb()}})).Must(t)
	servicetest.Try(b.c.UpsertUser(b.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: uOtherPlain, Name: "bravo user",
		Email: "user@bravo.test", Active: true}})).Must(t)
	b.setGroup(uOtherPlain, f.gBravo)
	servicetest.Try(b.c.UpsertPipeline(b.svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: plOther, Name: "bravo pipeline"}})).Must(t)
	b.item(uOtherPlain, &visibilityv1.Item{Type: deal, Id: dealOther, PipelineId: plOther})

	f.ctx = authz.Contexts(t, e.Instance, coA, coB, uApp, map[authz.Col]int64{authz.User: uUser, authz.Settings: uSettings,
		authz.AppAdmin: uApp, authz.DealAdmin: uDeal, authz.GlobalAdmin: uGlobal}, uOtherAdmin)
	f.fresh.Store(500)
	return f
}

// next returns an id no fixture object uses.
func (f *vFixture) next() int64 { return f.fresh.Add(1) }

// cell is one call of the matrix, handed to a row's request builder.
type cell struct {
	t   testing.TB
	col authz.Col
}

// actor is the acting_user_id / user_id a request names for the caller: 0
// for users (themselves), user u of the company for services.
func (c cell) actor(u int64) int64 {
	if c.col == authz.Service || c.col == authz.OtherService {
		return u
	}
	return 0
}

// vrow is one row of the visibility matrix.
type vrow struct {
	method string
	what   string // the variant, when a method has several rows
	class  *authz.Class
	nf     string // the reason of the class's authz.RowNF cells
	req    func(c cell) proto.Message
	except map[authz.Col]authz.Want
}

func (r vrow) want(c authz.Col) authz.Want { return r.class.For(c, r.nf, r.except) }

func (f *vFixture) rows() []vrow {
	a := f.a
	freshUser := func(c cell, g int64) int64 {
		id := f.next()
		servicetest.Try(a.c.UpsertUser(a.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: id, Name: "alpha temp",
			Email: fmt.Sprintf("t%d@alpha.test", id), Active: true}})).Must(c.t)
		if g != 0 {
			servicetest.Try(a.c.SetUserGroup(a.svc, &visibilityv1.SetUserGroupRequest{UserId: id, GroupId: g})).Must(c.t)
		}
		return id
	}
	pub := ref(deal, dealPub)
	samePub := &visibilityv1.Item{Type: deal, Id: dealPub, OwnerId: uUser, PipelineId: pl1}
	return []vrow{
		// Company.
		{method: "CreateCompany", class: vcServiceOnly, req: func(cell) proto.Message {
			return &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}
		}},
		{method: "GetCompany", class: vcMember, req: func(cell) proto.Message { return &visibilityv1.GetCompanyRequest{} }},
		{method: "UpdateCompany", class: vcSettingsNoID, req: func(cell) proto.Message {
			return &visibilityv1.UpdateCompanyRequest{Company: &visibilityv1.Company{Plan: visibilityv1.Plan_PLAN_ENTERPRISE},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"plan"}}}
		}},
		// Users. UpsertUser names a new id in another company: it creates it there.
		{method: "UpsertUser", class: vcSettingsNoID, req: func(cell) proto.Message { return upsertTarget() }},
		{method: "GetUser", what: "the caller itself or another user", class: vcSettings, nf: errUserNotFound,
			req:    func(cell) proto.Message { return &visibilityv1.GetUserRequest{UserId: uUser} },
			except: map[authz.Col]authz.Want{authz.User: authz.OK}}, // a user reads itself
		{method: "ListUsers", class: vcSettingsNoID, req: func(cell) proto.Message { return &visibilityv1.ListUsersRequest{} }},
		// A group that does not exist (here) has no members: an empty page,
		// as for an id that exists nowhere (TestV9_TenantSealingFuzz).
		{method: "ListUsers", what: "of a group", class: vcSettings,
			req:    func(cell) proto.Message { return &visibilityv1.ListUsersRequest{GroupId: f.gSales} },
			except: map[authz.Col]authz.Want{authz.OtherUser: authz.OK, authz.OtherService: authz.OK}},
		{method: "DeactivateUser", class: vcSettings, nf: errUserNotFound, req: func(c cell) proto.Message {
			return &visibilityv1.DeactivateUserRequest{UserId: freshUser(c, 0)}
		}},
		// Groups (V1, V6).
		{method: "CreateGroup", what: "a subgroup", class: vcSettings, nf: errGroupNotFound, req: func(cell) proto.Message {
			return &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "alpha temp", ParentId: f.gSales}}
		}},
		{method: "GetGroup", class: vcSettings, nf: errGroupNotFound,
			req: func(cell) proto.Message { return &visibilityv1.GetGroupRequest{GroupId: f.gSales} }},
		{method: "ListGroups", class: vcSettingsNoID, req: func(cell) proto.Message { return &visibilityv1.ListGroupsRequest{} }},
		{method: "UpdateGroup", class: vcSettings, nf: errGroupNotFound, req: func(cell) proto.Message {
			return &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: f.gSpare, Name: "alpha spare"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}}
		}},
		{method: "DeleteGroup", class: vcSettings, nf: errGroupNotFound, req: func(c cell) proto.Message {
			g := servicetest.Try(a.c.CreateGroup(a.svc, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "alpha temp"}})).Must(c.t)
			return &visibilityv1.DeleteGroupRequest{GroupId: g.GetGroup().GetId()}
		}},
		{method: "SetUserGroup", class: vcSettings, nf: errGroupNotFound, req: func(cell) proto.Message {
			return &visibilityv1.SetUserGroupRequest{UserId: uUser, GroupId: f.gSales}
		}},
		{method: "RemoveUserFromGroup", class: vcSettings, nf: errUserNotFound, req: func(c cell) proto.Message {
			return &visibilityv1.RemoveUserFromGroupRequest{UserId: freshUser(c, f.gSpare)}
		}},
		// Pipelines (V7). UpsertPipeline names a new id in another company: it creates it there.
		{method: "UpsertPipeline", class: vcSettingsNoID, req: func(cell) proto.Message { return pipelineTarget() }},
		{method: "DeletePipeline", class: vcSettings, nf: errPipelineNotFound, req: func(c cell) proto.Message {
			id := f.next()
			servicetest.Try(a.c.UpsertPipeline(a.svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: id, Name: "alpha temp"}})).Must(c.t)
			return &visibilityv1.DeletePipelineRequest{PipelineId: id}
		}},
		{method: "UpdateGroupPipelines", class: vcSettings, nf: errGroupNotFound, req: func(cell) proto.Message {
			return &visibilityv1.UpdateGroupPipelinesRequest{GroupId: f.gSales,
				VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{pl1}}}
		}},
		{method: "ListPipelines", what: "all (user_id omitted)", class: vcSettingsNoID,
			req: func(cell) proto.Message { return &visibilityv1.ListPipelinesRequest{} }},
		{method: "ListPipelines", what: "those a named user sees", class: vcAboutNamedUser,
			req: func(cell) proto.Message { return &visibilityv1.ListPipelinesRequest{UserId: uUser} }},
		// Items (V5, V8): writes by a user are on its own behalf, of items it can see.
		{method: "UpsertItem", class: vcItemPublic, nf: errUserNotFound, req: func(c cell) proto.Message {
			return &visibilityv1.UpsertItemRequest{ActingUserId: c.actor(uUser), Item: samePub}
		}},
		{method: "BatchUpsertItems", class: vcItemPublic, nf: errUserNotFound, req: func(c cell) proto.Message {
			return &visibilityv1.BatchUpsertItemsRequest{ActingUserId: c.actor(uUser), Items: []*visibilityv1.Item{samePub}}
		}},
		{method: "GetItem", what: "public deal", class: vcItemPublic, nf: errItemNotFound,
			req: func(cell) proto.Message { return &visibilityv1.GetItemRequest{Item: pub} }},
		{method: "GetItem", what: "private deal", class: vcItemPrivateDeal, nf: errItemNotFound,
			req: func(cell) proto.Message { return &visibilityv1.GetItemRequest{Item: ref(deal, dealPriv)} }},
		{method: "GetItem", what: "private person", class: vcItemPrivatePerson, nf: errItemNotFound,
			req: func(cell) proto.Message { return &visibilityv1.GetItemRequest{Item: ref(person, personPriv)} }},
		{method: "DeleteItem", class: vcItemPublic, nf: errItemNotFound, req: func(c cell) proto.Message {
			id := f.next()
			a.item(uUser, &visibilityv1.Item{Type: deal, Id: id})
			return &visibilityv1.DeleteItemRequest{Item: ref(deal, id)}
		}},
		{method: "DeleteItem", what: "private person", class: vcItemPrivatePerson, nf: errItemNotFound, req: func(c cell) proto.Message {
			id := f.next()
			a.item(uOwner, &visibilityv1.Item{Type: person, Id: id})
			return &visibilityv1.DeleteItemRequest{Item: ref(person, id)}
		}},
		{method: "ChangeItemOwner", class: vcItemPublic, nf: errItemNotFound, req: func(cell) proto.Message {
			return &visibilityv1.ChangeItemOwnerRequest{Item: pub, OwnerId: uUser}
		}},
		{method: "ChangeItemOwner", what: "private deal", class: vcItemPrivateDeal, nf: errItemNotFound, req: func(cell) proto.Message {
			return &visibilityv1.ChangeItemOwnerRequest{Item: ref(deal, dealPriv), OwnerId: uOwner}
		}},
		{method: "AddItemFollowers", class: vcItemPublic, nf: errItemNotFound, req: func(cell) proto.Message {
			return &visibilityv1.AddItemFollowersRequest{Item: pub, UserIds: []int64{uOwner}}
		}},
		{method: "RemoveItemFollowers", class: vcItemPublic, nf: errItemNotFound, req: func(cell) proto.Message {
			return &visibilityv1.RemoveItemFollowersRequest{Item: pub, UserIds: []int64{uGlobal}}
		}},
		{method: "ListItemFollowers", class: vcItemPublic, nf: errItemNotFound,
			req: func(cell) proto.Message { return &visibilityv1.ListItemFollowersRequest{Item: pub} }},
		{method: "ListItemFollowers", what: "private person", class: vcItemPrivatePerson, nf: errItemNotFound,
			req: func(cell) proto.Message { return &visibilityv1.ListItemFollowersRequest{Item: ref(person, personPriv)} }},
		// Decisions.
		{method: "CheckAccess", what: "named user", class: vcAboutNamedUser, req: func(cell) proto.Message {
			return &visibilityv1.CheckAccessRequest{UserId: uUser, Item: ref(deal, dealPriv)}
		}},
		{method: "CheckAccess", what: "the caller", class: vcAboutCaller, req: func(cell) proto.Message {
			return &visibilityv1.CheckAccessRequest{Item: ref(deal, dealPriv)}
		}},
		{method: "BatchCheckAccess", what: "named user", class: vcAboutNamedUser, req: func(cell) proto.Message {
			return &visibilityv1.BatchCheckAccessRequest{UserId: uUser, Items: []*visibilityv1.ItemRef{pub, ref(deal, dealPriv)}}
		}},
		{method: "BatchCheckAccess", what: "the caller", class: vcAboutCaller, req: func(cell) proto.Message {
			return &visibilityv1.BatchCheckAccessRequest{Items: []*visibilityv1.ItemRef{pub, ref(deal, dealPriv)}}
		}},
		{method: "LookupAccessFilter", what: "named user", class: vcAboutNamedUser, req: func(cell) proto.Message {
			return &visibilityv1.LookupAccessFilterRequest{UserId: uUser, ItemType: deal}
		}},
		{method: "LookupAccessFilter", what: "the caller", class: vcAboutCaller, req: func(cell) proto.Message {
			return &visibilityv1.LookupAccessFilterRequest{ItemType: deal}
		}},
		{method: "ListAccessibleItems", what: "named user", class: vcAboutNamedUser, req: func(cell) proto.Message {
			return &visibilityv1.ListAccessibleItemsRequest{UserId: uUser, ItemType: deal}
		}},
		{method: "ListAccessibleItems", what: "the caller", class: vcAboutCaller, req: func(cell) proto.Message {
			return &visibilityv1.ListAccessibleItemsRequest{ItemType: deal}
		}},
		{method: "ListItemViewers", class: vcSettings, nf: errItemNotFound,
			req: func(cell) proto.Message { return &visibilityv1.ListItemViewersRequest{Item: pub} }},
		{method: "ExplainAccess", what: "named user", class: vcAboutNamedUser, req: func(cell) proto.Message {
			return &visibilityv1.ExplainAccessRequest{UserId: uUser, Item: ref(deal, dealPriv)}
		}},
		{method: "ExplainAccess", what: "the caller", class: vcAboutCaller, req: func(cell) proto.Message {
			return &visibilityv1.ExplainAccessRequest{Item: ref(deal, dealPriv)}
		}},
	}
}

// fingerprint renders the fixture's objects as the services of both
// companies read them, without times, versions and counts, so that a row
// that leaves them changed fails.
func (f *vFixture) fingerprint(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	add := func(m proto.Message) { b.WriteString(render(m) + "\n") }
	for _, c := range []*co{f.a, f.b} {
		add(servicetest.Try(c.c.GetCompany(c.svc, &visibilityv1.GetCompanyRequest{})).Must(t))
	}
	for _, u := range []int64{uUser, uSettings, uApp, uDeal, uGlobal, uOwner, uUpsert} {
		add(f.a.getUser(u))
	}
	for _, u := range []int64{uOtherAdmin, uOtherPlain} {
		add(f.b.getUser(u))
	}
	for _, g := range []int64{f.gSales, f.gOther, f.gSpare} {
		add(f.a.getGroup(g))
	}
	add(f.b.getGroup(f.gBravo))
	for _, c := range []*co{f.a, f.b} {
		for _, p := range servicetest.Try(c.c.ListPipelines(c.svc, &visibilityv1.ListPipelinesRequest{})).Must(t).GetPipelines() {
			if id := p.GetId(); id == pl1 || id == pl2 || id == plOther || (id == plUpsert && c == f.a) {
				add(p)
			}
		}
	}
	add(f.a.getItem(deal, dealPub))
	add(f.a.getItem(deal, dealPriv))
	add(f.a.getItem(person, personPriv))
	add(f.b.getItem(deal, dealOther))
	return b.String()
}

// volatile are the fields render leaves out.
var volatile = map[protoreflect.Name]bool{"create_time": true, "update_time": true, "version": true,
	"member_count": true, "custom_group_count": true}

// render is protojson of m without its volatile fields.
func render(m proto.Message) string {
	if m == nil {
		return "<nil>"
	}
	return protojson.MarshalOptions{}.Format(scrubbed(m))
}

// scrubbed is a copy of m without its volatile fields (nil for nil).
func scrubbed(m proto.Message) proto.Message {
	if m == nil {
		return nil
	}
	m = proto.Clone(m)
	scrub(m.ProtoReflect())
	return m
}

func scrub(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case volatile[fd.Name()]:
			m.Clear(fd)
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				scrub(v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool { scrub(mv.Message()); return true })
		case fd.Message() != nil && !fd.IsMap():
			scrub(v.Message())
		}
		return true
	})
}

func TestAuthzMatrix_Visibility(t *testing.T) {
	f := newVFixture(t)
	var rows []authz.Row
	for _, r := range f.rows() {
		rows = append(rows, authz.Row{Method: r.method, What: r.what, Want: r.want,
			Request: func(t testing.TB, c authz.Col) proto.Message { return r.req(cell{t: t, col: c}) }})
	}
	authz.Run(t, visibilityv1.File_sightline_visibility_v1_visibility_service_proto.Services().ByName("VisibilityService"),
		f.e.Conn, f.ctx, rows, "alpha", "bravo", f.fingerprint)
}
