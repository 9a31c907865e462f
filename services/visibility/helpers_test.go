package visibility_test

// The visibility service's tests run the real service over gRPC on a fresh,
// migrated PostgreSQL database per test (start in main_test.go):
//
//   - rules_groups_test.go, rules_items_test.go: one test per rule V1–V10 of
//     DESIGN.md, named after it;
//   - versions_test.go: versions, min_version, two replicas on one database;
//   - property_test.go: random companies loaded through the API against the
//     reference model of package policytest;
//   - badinput_test.go: refused requests change nothing;
//   - idempotency_test.go: AIP-155 request ids.
//
// This file holds the shared helpers.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sightline/sightline/pkg/apierr"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
)

// Short names for the enums the tests use all the time.
const (
	deal    = visibilityv1.ItemType_ITEM_TYPE_DEAL
	lead    = visibilityv1.ItemType_ITEM_TYPE_LEAD
	person  = visibilityv1.ItemType_ITEM_TYPE_PERSON
	org     = visibilityv1.ItemType_ITEM_TYPE_ORGANIZATION
	product = visibilityv1.ItemType_ITEM_TYPE_PRODUCT

	vtUnset     = visibilityv1.VisibleTo_VISIBLE_TO_UNSPECIFIED
	vtOwner     = visibilityv1.VisibleTo_VISIBLE_TO_OWNER
	vtGroup     = visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP
	vtSubgroups = visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS
	vtCompany   = visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY

	rOwner       = visibilityv1.DecisionReason_DECISION_REASON_OWNER
	rFollower    = visibilityv1.DecisionReason_DECISION_REASON_FOLLOWER
	rAncestor    = visibilityv1.DecisionReason_DECISION_REASON_ANCESTOR_GROUP
	rOwnerGroup  = visibilityv1.DecisionReason_DECISION_REASON_OWNER_GROUP
	rSubgroup    = visibilityv1.DecisionReason_DECISION_REASON_SUBGROUP
	rCompany     = visibilityv1.DecisionReason_DECISION_REASON_ENTIRE_COMPANY
	rAppAdmin    = visibilityv1.DecisionReason_DECISION_REASON_APP_ADMIN
	rDealAdmin   = visibilityv1.DecisionReason_DECISION_REASON_DEAL_ADMIN
	rGlobalAdmin = visibilityv1.DecisionReason_DECISION_REASON_GLOBAL_ADMIN
	rNotVisible  = visibilityv1.DecisionReason_DECISION_REASON_NOT_VISIBLE
	rHidden      = visibilityv1.DecisionReason_DECISION_REASON_PIPELINE_HIDDEN
	rInactive    = visibilityv1.DecisionReason_DECISION_REASON_USER_INACTIVE
	rNoItem      = visibilityv1.DecisionReason_DECISION_REASON_ITEM_NOT_FOUND
)

// Error reasons as the ErrorInfo carries them.
var (
	reasonInvalidArgument = commonv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT.String()
	reasonPageToken       = commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN.String()
	reasonRequestIDReused = commonv1.ErrorReason_ERROR_REASON_REQUEST_ID_REUSED.String()
)

func vr(r visibilityv1.ErrorReason) string { return r.String() }

var (
	errCompanyNotFound   = vr(visibilityv1.ErrorReason_ERROR_REASON_COMPANY_NOT_FOUND)
	errCompanyExists     = vr(visibilityv1.ErrorReason_ERROR_REASON_COMPANY_ALREADY_EXISTS)
	errUserNotFound      = vr(visibilityv1.ErrorReason_ERROR_REASON_USER_NOT_FOUND)
	errGroupNotFound     = vr(visibilityv1.ErrorReason_ERROR_REASON_GROUP_NOT_FOUND)
	errPipelineNotFound  = vr(visibilityv1.ErrorReason_ERROR_REASON_PIPELINE_NOT_FOUND)
	errItemNotFound      = vr(visibilityv1.ErrorReason_ERROR_REASON_ITEM_NOT_FOUND)
	errGroupNotEmpty     = vr(visibilityv1.ErrorReason_ERROR_REASON_GROUP_NOT_EMPTY)
	errGroupCycle        = vr(visibilityv1.ErrorReason_ERROR_REASON_GROUP_CYCLE)
	errDefaultImmutable  = vr(visibilityv1.ErrorReason_ERROR_REASON_DEFAULT_GROUP_IMMUTABLE)
	errGroupLimit        = vr(visibilityv1.ErrorReason_ERROR_REASON_GROUP_LIMIT_EXCEEDED)
	errNotInPlan         = vr(visibilityv1.ErrorReason_ERROR_REASON_VISIBLE_TO_NOT_IN_PLAN)
	errChangeVisibility  = vr(visibilityv1.ErrorReason_ERROR_REASON_CHANGE_VISIBILITY_NOT_PERMITTED)
	errAccountSettings   = vr(visibilityv1.ErrorReason_ERROR_REASON_ACCOUNT_SETTINGS_REQUIRED)
	errSubjectNotCaller  = vr(visibilityv1.ErrorReason_ERROR_REASON_SUBJECT_NOT_CALLER)
	errLastPipeline      = vr(visibilityv1.ErrorReason_ERROR_REASON_LAST_VISIBLE_PIPELINE)
	errBatchTooLarge     = vr(visibilityv1.ErrorReason_ERROR_REASON_BATCH_TOO_LARGE)
	errVersionNotReached = vr(visibilityv1.ErrorReason_ERROR_REASON_VERSION_NOT_REACHED)
	errServiceRequired   = vr(visibilityv1.ErrorReason_ERROR_REASON_SERVICE_PRINCIPAL_REQUIRED)
	errActingUser        = vr(visibilityv1.ErrorReason_ERROR_REASON_ACTING_USER_REQUIRED)
)

// wantErr asserts err's code and ErrorInfo reason (and, when fields are
// given, that its BadRequest names each of them). It returns the status.
func wantErr(t testing.TB, err error, code codes.Code, reason string, fields ...string) *status.Status {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v %s", code, reason)
	}
	st := status.Convert(err)
	if st.Code() != code || apierr.Reason(err) != reason {
		t.Fatalf("error %v %q (reason %q), want %v %s", st.Code(), st.Message(), apierr.Reason(err), code, reason)
	}
	if code == codes.InvalidArgument && len(fields) == 0 {
		t.Fatalf("test bug: INVALID_ARGUMENT needs the BadRequest field to check")
	}
	var got []string
	for _, v := range apierr.Violations(err) {
		got = append(got, v.Field)
	}
	for _, f := range fields {
		if !slices.Contains(got, f) {
			t.Fatalf("error %v %q: BadRequest fields %v, want %q among them", st.Code(), st.Message(), got, f)
		}
	}
	return st
}

func quotaFailure(st *status.Status) *errdetails.QuotaFailure {
	for _, d := range st.Details() {
		if q, ok := d.(*errdetails.QuotaFailure); ok {
			return q
		}
	}
	return nil
}

// co is one company of a test: a service principal context and helpers that
// fail the test on any error.
type co struct {
	t   testing.TB
	e   *env
	id  int64
	svc context.Context
	c   visibilityv1.VisibilityServiceClient
	// def is the default group.
	def int64
}

// newCo creates company id on plan through a service principal.
func newCo(t testing.TB, e *env, id int64, plan visibilityv1.Plan) *co {
	t.Helper()
	svc := bounded(t, e.Service(t, id))
	resp := servicetest.Try(e.client.CreateCompany(svc, &visibilityv1.CreateCompanyRequest{Plan: plan})).Must(t)
	return &co{t: t, e: e, id: id, svc: svc, c: e.client, def: resp.GetCompany().GetDefaultGroupId()}
}

// with returns c reporting to t (for subtests).
func (c *co) with(t testing.TB) *co {
	cp := *c
	cp.t = t
	return &cp
}

// as returns a context calling as user u of the company.
func (c *co) as(u int64) context.Context { return bounded(c.t, c.e.User(c.t, c.id, u)) }

// callTimeout bounds every call made through a co's contexts, so that a
// service that hangs (say, on a cycle in the group forest) fails the test
// instead of stalling the package until go test's timeout.
const callTimeout = 2 * time.Minute

func bounded(t testing.TB, ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// perms is a shorthand for building Permissions.
type perms struct{ app, deal, global, settings, change bool }

func (p perms) pb() *visibilityv1.Permissions {
	return &visibilityv1.Permissions{AppAdmin: p.app, DealAdmin: p.deal, GlobalAdmin: p.global,
		AccountSettings: p.settings, ChangeVisibility: p.change}
}

// user registers an active user and puts it in group g (0: stays in the default group).
func (c *co) user(id, g int64, p perms) *visibilityv1.User {
	c.t.Helper()
	u := servicetest.Try(c.c.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{
		Id: id, Name: "user " + strconv.FormatInt(id, 10), Email: fmt.Sprintf("u%d@example.com", id), Active: true, Permissions: p.pb()}})).Must(c.t).GetUser()
	if g != 0 {
		u = c.setGroup(id, g).GetUser()
	}
	return u
}

func (c *co) setGroup(u, g int64) *visibilityv1.SetUserGroupResponse {
	c.t.Helper()
	return servicetest.Try(c.c.SetUserGroup(c.svc, &visibilityv1.SetUserGroupRequest{UserId: u, GroupId: g})).Must(c.t)
}

// group creates a group under parent (0: top-level) with default visibility dv (nil: service defaults).
func (c *co) group(name string, parent int64, dv *visibilityv1.DefaultVisibility) int64 {
	c.t.Helper()
	return servicetest.Try(c.c.CreateGroup(c.svc, &visibilityv1.CreateGroupRequest{
		Group: &visibilityv1.Group{Name: name, ParentId: parent, DefaultVisibility: dv}})).Must(c.t).GetGroup().GetId()
}

func (c *co) moveGroup(g, parent int64) int64 {
	c.t.Helper()
	return servicetest.Try(c.c.UpdateGroup(c.svc, &visibilityv1.UpdateGroupRequest{
		Group:      &visibilityv1.Group{Id: g, ParentId: parent},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"parent_id"}}})).Must(c.t).GetVersion()
}

func (c *co) getGroup(g int64) *visibilityv1.Group {
	c.t.Helper()
	return servicetest.Try(c.c.GetGroup(c.svc, &visibilityv1.GetGroupRequest{GroupId: g})).Must(c.t).GetGroup()
}

func (c *co) getUser(u int64) *visibilityv1.User {
	c.t.Helper()
	return servicetest.Try(c.c.GetUser(c.svc, &visibilityv1.GetUserRequest{UserId: u})).Must(c.t).GetUser()
}

func (c *co) company() *visibilityv1.Company {
	c.t.Helper()
	return servicetest.Try(c.c.GetCompany(c.svc, &visibilityv1.GetCompanyRequest{})).Must(c.t).GetCompany()
}

func (c *co) pipeline(id int64) {
	c.t.Helper()
	servicetest.Try(c.c.UpsertPipeline(c.svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: id, Name: "pipeline " + strconv.FormatInt(id, 10)}})).Must(c.t)
}

// hide hides pipelines for group g.
func (c *co) hide(g int64, pipelines ...int64) *visibilityv1.UpdateGroupPipelinesResponse {
	c.t.Helper()
	return servicetest.Try(c.c.UpdateGroupPipelines(c.svc, &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g,
		VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: pipelines}})).Must(c.t)
}

// item registers an item through the service on behalf of acting (owner 0: acting).
func (c *co) item(acting int64, it *visibilityv1.Item) *visibilityv1.UpsertItemResponse {
	c.t.Helper()
	return servicetest.Try(c.c.UpsertItem(c.svc, &visibilityv1.UpsertItemRequest{ActingUserId: acting, Item: it})).Must(c.t)
}

func (c *co) getItem(t visibilityv1.ItemType, id int64) *visibilityv1.Item {
	c.t.Helper()
	return servicetest.Try(c.c.GetItem(c.svc, &visibilityv1.GetItemRequest{Item: ref(t, id)})).Must(c.t).GetItem()
}

func ref(t visibilityv1.ItemType, id int64) *visibilityv1.ItemRef {
	return &visibilityv1.ItemRef{Type: t, Id: id}
}

// check asks the service whether user u may see an item, at least at version min.
func (c *co) check(u int64, t visibilityv1.ItemType, id, min int64) *visibilityv1.CheckAccessResponse {
	c.t.Helper()
	return servicetest.Try(c.c.CheckAccess(c.svc, &visibilityv1.CheckAccessRequest{UserId: u, Item: ref(t, id), MinVersion: min})).Must(c.t)
}

// wantAccess asserts a service-principal decision.
func (c *co) wantAccess(u int64, t visibilityv1.ItemType, id, min int64, allowed bool, reason visibilityv1.DecisionReason) {
	c.t.Helper()
	r := c.check(u, t, id, min)
	if r.GetAllowed() != allowed || r.GetReason() != reason {
		c.t.Fatalf("user %d on %v %d (min_version %d): allowed=%v %v, want allowed=%v %v",
			u, t, id, min, r.GetAllowed(), r.GetReason(), allowed, reason)
	}
}

// viewers lists every viewer of an item (as the service), by user id.
func (c *co) viewers(t visibilityv1.ItemType, id int64) []int64 {
	c.t.Helper()
	var out []int64
	tok := ""
	for {
		r := servicetest.Try(c.c.ListItemViewers(c.svc, &visibilityv1.ListItemViewersRequest{Item: ref(t, id), PageToken: tok, PageSize: 3})).Must(c.t)
		for _, v := range r.GetViewers() {
			out = append(out, v.GetUserId())
		}
		if tok = r.GetNextPageToken(); tok == "" {
			return out
		}
	}
}

// snapshotDB returns every row of every table of schema visibility, as text.
func snapshotDB(t testing.TB, conn *pgx.Conn) string {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'visibility' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 8 {
		t.Fatalf("only tables %v in schema visibility", tables)
	}
	var b strings.Builder
	for _, table := range tables {
		var dump string
		q := `SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM visibility.` +
			pgx.Identifier{table}.Sanitize() + ` x`
		if err := conn.QueryRow(ctx, q).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s\n%s\n", table, dump)
	}
	return b.String()
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// normalize renders a response or an error with the given ids replaced by
// "<id>", so that answers about different ids can be compared.
func normalize(resp proto.Message, err error, ids ...int64) string {
	var s string
	if err != nil {
		st := status.Convert(err)
		s = "error " + st.Code().String() + ": " + st.Message()
		for _, d := range st.Details() {
			if m, ok := d.(proto.Message); ok {
				s += " | " + protojson.Format(m)
			}
		}
	} else {
		s = "ok " + protojson.Format(resp)
	}
	for _, id := range ids {
		re := regexp.MustCompile(`\b` + strconv.FormatInt(id, 10) + `\b`)
		s = re.ReplaceAllString(s, "<id>")
	}
	return s
}
