package visibility_test

// TestV9_TenantSealingFuzz: two companies with random data; every RPC that
// takes an id is called by each kind of caller of company A with company B's
// ids, and must answer exactly as for an id that exists nowhere: the same
// code, the same ErrorInfo reason and the same message except for the id.
// No response (answer or error) may carry B's names, emails or ids, and no
// list may include B's objects.
//
// Timing is not asserted (the machines running the tests are noisy). It
// does not tell the two cases apart either: every lookup is keyed by
// (company_id, id), so an id of another company and an id that exists
// nowhere run the same query and miss the same way.

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/pkg/servicetest/authz"
)

// world is one company's random data.
type world struct {
	c         *co
	tag       string // in every name and email of the company
	users     []int64
	groups    []int64 // including the default group
	pipelines []int64
	items     []*visibilityv1.ItemRef
}

// Id bases: company B's ids are long and distinctive, so that a response can
// be scanned for them.
const (
	baseA = int64(100_000)
	baseB = int64(7_100_000)
	// never is the base of ids that exist in no company.
	never = int64(9_100_000)
)

var visibleTos = []visibilityv1.VisibleTo{vtOwner, vtGroup, vtSubgroups, vtCompany}

// randomWorld fills company id with random groups, users, pipelines and
// items. The first five users of company A are the callers: a plain user,
// one with account settings access, an app, a deal and a global admin.
func randomWorld(t *testing.T, e *env, rng *rand.Rand, id int64, tag string, base int64) *world {
	c := newCo(t, e, id, visibilityv1.Plan_PLAN_ENTERPRISE)
	w := &world{c: c, tag: tag, groups: []int64{c.def}}
	pick := func(s []int64) int64 { return s[rng.IntN(len(s))] }
	dv := func() *visibilityv1.DefaultVisibility {
		v := func() visibilityv1.VisibleTo { return visibleTos[rng.IntN(len(visibleTos))] }
		return &visibilityv1.DefaultVisibility{Deal: v(), Lead: v(), Person: v(), Organization: v(), Product: v()}
	}
	for i := range 1 + rng.IntN(4) {
		parent := int64(0)
		if i > 0 && rng.IntN(2) == 0 {
			parent = pick(w.groups[1:])
		}
		w.groups = append(w.groups, c.group(fmt.Sprintf("%s group %d", tag, i), parent, dv()))
	}
	for i := range 2 + rng.IntN(3) {
		p := base + 500_000 + int64(i)
		servicetest.Try(c.c.UpsertPipeline(c.svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{
			Id: p, Name: fmt.Sprintf("%s pipeline %d", tag, i)}})).Must(t)
		w.pipelines = append(w.pipelines, p)
	}
	roles := []perms{{}, {settings: true}, {app: true}, {deal: true}, {global: true}}
	for i := range 6 + rng.IntN(5) {
		u := base + int64(i)
		p := perms{app: rng.IntN(6) == 0, deal: rng.IntN(5) == 0, global: rng.IntN(5) == 0,
			settings: rng.IntN(4) == 0, change: rng.IntN(3) == 0}
		if i < len(roles) {
			p = roles[i]
		}
		// The callers stay active (the draw is still made, so that the rest
		// of the world is the same for a seed).
		active := rng.IntN(8) != 0 || i < len(roles)
		servicetest.Try(c.c.UpsertUser(c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u,
			Name: fmt.Sprintf("%s user %d", tag, i), Email: fmt.Sprintf("%s.%d@%s.test", tag, i, tag), Active: active,
			Permissions: p.pb()}})).Must(t)
		if g := pick(w.groups); g != c.def {
			c.setGroup(u, g)
		}
		w.users = append(w.users, u)
	}
	if rng.IntN(2) == 0 && len(w.groups) > 1 {
		c.hide(pick(w.groups[1:]), w.pipelines[0])
	}
	admin := w.users[2] // an app admin: may set any visible_to (V5)
	for i := range 10 + rng.IntN(10) {
		it := &visibilityv1.Item{Type: visibilityv1.ItemType(1 + rng.IntN(5)), Id: base + 300_000 + int64(i),
			OwnerId: pick(w.users)}
		if rng.IntN(3) > 0 {
			it.VisibleTo = visibleTos[rng.IntN(len(visibleTos))]
		}
		if it.Type == deal && rng.IntN(3) > 0 {
			it.PipelineId = pick(w.pipelines)
		}
		c.item(admin, it)
		if rng.IntN(2) == 0 {
			servicetest.Try(c.c.AddItemFollowers(c.svc, &visibilityv1.AddItemFollowersRequest{Item: ref(it.Type, it.Id),
				UserIds: []int64{pick(w.users)}})).Must(t)
		}
		w.items = append(w.items, ref(it.Type, it.Id))
	}
	return w
}

// fingerprint renders every object of the world as its own service reads it.
func (w *world) fingerprint(t testing.TB) string {
	t.Helper()
	c := w.c
	var b strings.Builder
	b.WriteString(render(servicetest.Try(c.c.ListUsers(c.svc, &visibilityv1.ListUsersRequest{PageSize: 1000})).Must(t)))
	b.WriteString(render(servicetest.Try(c.c.ListGroups(c.svc, &visibilityv1.ListGroupsRequest{})).Must(t)))
	b.WriteString(render(servicetest.Try(c.c.ListPipelines(c.svc, &visibilityv1.ListPipelinesRequest{})).Must(t)))
	for _, it := range w.items {
		b.WriteString(render(c.getItem(it.GetType(), it.GetId())))
	}
	return b.String()
}

// idKind is the kind of object an id names.
type idKind int

const (
	kUser idKind = iota
	kGroup
	kPipeline
	kItem
)

// sealProbe is one RPC called with an id of B (or one that exists nowhere)
// in one of its fields.
type sealProbe struct {
	method string
	field  string // which field gets the foreign id
	kind   idKind
	// build returns the request; t is the item type for kItem.
	build func(c cell, id int64, t visibilityv1.ItemType) proto.Message
}

func sealProbes(a *world) []sealProbe {
	u0 := a.users[0] // the plain user, caller authz.User
	g0 := a.groups[len(a.groups)-1]
	p0 := a.pipelines[0]
	it0 := a.items[0]
	newItem := never + 999 // an item id of A's that does not exist: an upsert naming a foreign id must fail
	mask := func(p string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: []string{p}} }
	return []sealProbe{
		// Users.
		{"GetUser", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.GetUserRequest{UserId: id}
		}},
		{"DeactivateUser", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.DeactivateUserRequest{UserId: id}
		}},
		{"SetUserGroup", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.SetUserGroupRequest{UserId: id, GroupId: g0}
		}},
		{"RemoveUserFromGroup", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.RemoveUserFromGroupRequest{UserId: id}
		}},
		{"ListPipelines", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ListPipelinesRequest{UserId: id}
		}},
		{"CheckAccess", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.CheckAccessRequest{UserId: id, Item: it0}
		}},
		{"BatchCheckAccess", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.BatchCheckAccessRequest{UserId: id, Items: a.items}
		}},
		{"LookupAccessFilter", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.LookupAccessFilterRequest{UserId: id, ItemType: deal}
		}},
		{"ListAccessibleItems", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ListAccessibleItemsRequest{UserId: id, ItemType: person}
		}},
		{"ExplainAccess", "user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ExplainAccessRequest{UserId: id, Item: it0}
		}},
		{"UpsertItem", "acting_user_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpsertItemRequest{ActingUserId: id, Item: &visibilityv1.Item{Type: deal, Id: newItem, OwnerId: u0}}
		}},
		{"UpsertItem", "item.owner_id", kUser, func(c cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpsertItemRequest{ActingUserId: c.actor(u0), Item: &visibilityv1.Item{Type: deal, Id: newItem, OwnerId: id}}
		}},
		{"BatchUpsertItems", "items[0].owner_id", kUser, func(c cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.BatchUpsertItemsRequest{ActingUserId: c.actor(u0), Items: []*visibilityv1.Item{{Type: deal, Id: newItem, OwnerId: id}}}
		}},
		{"ChangeItemOwner", "owner_id", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ChangeItemOwnerRequest{Item: it0, OwnerId: id}
		}},
		{"AddItemFollowers", "user_ids", kUser, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.AddItemFollowersRequest{Item: it0, UserIds: []int64{id}}
		}},
		// Groups.
		{"GetGroup", "group_id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.GetGroupRequest{GroupId: id}
		}},
		{"ListUsers", "group_id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ListUsersRequest{GroupId: id}
		}},
		{"CreateGroup", "group.parent_id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: "alpha probe", ParentId: id}}
		}},
		{"UpdateGroup", "group.id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: id, Name: "alpha probe"}, UpdateMask: mask("name")}
		}},
		{"UpdateGroup", "group.parent_id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: g0, ParentId: id}, UpdateMask: mask("parent_id")}
		}},
		{"UpdateGroup", "group.default_visibility", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpdateGroupRequest{Group: &visibilityv1.Group{Id: id, DefaultVisibility: allVisible(vtOwner)},
				UpdateMask: mask("default_visibility")}
		}},
		{"DeleteGroup", "group_id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.DeleteGroupRequest{GroupId: id, MoveMembersAndSubgroups: true}
		}},
		{"SetUserGroup", "group_id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.SetUserGroupRequest{UserId: u0, GroupId: id}
		}},
		{"UpdateGroupPipelines", "group_id", kGroup, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpdateGroupPipelinesRequest{GroupId: id, VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{p0}}}
		}},
		// Pipelines.
		{"DeletePipeline", "pipeline_id", kPipeline, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.DeletePipelineRequest{PipelineId: id}
		}},
		{"UpdateGroupPipelines", "visible_pipeline_ids.add", kPipeline, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g0, VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Add: []int64{id}}}
		}},
		{"UpdateGroupPipelines", "visible_pipeline_ids.remove", kPipeline, func(_ cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpdateGroupPipelinesRequest{GroupId: g0, VisiblePipelineIds: &visibilityv1.PipelineIdChanges{Remove: []int64{id}}}
		}},
		{"UpsertItem", "item.pipeline_id", kPipeline, func(c cell, id int64, _ visibilityv1.ItemType) proto.Message {
			return &visibilityv1.UpsertItemRequest{ActingUserId: c.actor(u0), Item: &visibilityv1.Item{Type: deal, Id: newItem, OwnerId: u0, PipelineId: id}}
		}},
		// Items.
		{"GetItem", "item", kItem, func(_ cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.GetItemRequest{Item: ref(t, id)}
		}},
		{"DeleteItem", "item", kItem, func(_ cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.DeleteItemRequest{Item: ref(t, id)}
		}},
		{"ChangeItemOwner", "item", kItem, func(_ cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ChangeItemOwnerRequest{Item: ref(t, id), OwnerId: u0}
		}},
		{"AddItemFollowers", "item", kItem, func(_ cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.AddItemFollowersRequest{Item: ref(t, id), UserIds: []int64{u0}}
		}},
		{"RemoveItemFollowers", "item", kItem, func(_ cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.RemoveItemFollowersRequest{Item: ref(t, id), UserIds: []int64{u0}}
		}},
		{"ListItemFollowers", "item", kItem, func(_ cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ListItemFollowersRequest{Item: ref(t, id)}
		}},
		{"CheckAccess", "item", kItem, func(c cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.CheckAccessRequest{UserId: c.actor(u0), Item: ref(t, id)}
		}},
		{"BatchCheckAccess", "items", kItem, func(c cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.BatchCheckAccessRequest{UserId: c.actor(u0), Items: append(slices.Clone(a.items), ref(t, id))}
		}},
		{"ExplainAccess", "item", kItem, func(c cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ExplainAccessRequest{UserId: c.actor(u0), Item: ref(t, id)}
		}},
		{"ListItemViewers", "item", kItem, func(_ cell, id int64, t visibilityv1.ItemType) proto.Message {
			return &visibilityv1.ListItemViewersRequest{Item: ref(t, id)}
		}},
	}
}

// leaks returns what of world b a rendered answer carries: its tag, or one
// of its ids other than the one asked about.
func (w *world) leaks(s string, asked int64) []string {
	var out []string
	if strings.Contains(strings.ToLower(s), w.tag) {
		out = append(out, "the tag "+w.tag)
	}
	check := func(id int64) {
		if id != asked && regexp.MustCompile(`\b`+strconv.FormatInt(id, 10)+`\b`).MatchString(s) {
			out = append(out, "id "+strconv.FormatInt(id, 10))
		}
	}
	for _, ids := range [][]int64{w.users, w.pipelines} {
		for _, id := range ids {
			check(id)
		}
	}
	for _, it := range w.items {
		check(it.GetId())
	}
	return out
}

func TestV9_TenantSealingFuzz(t *testing.T) {
	sd := visibilityv1.File_sightline_visibility_v1_visibility_service_proto.Services().ByName("VisibilityService")
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			e := start(t)
			rng := rand.New(rand.NewPCG(seed, 0x5ea1))
			a := randomWorld(t, e, rng, 11, "alpha", baseA)
			b := randomWorld(t, e, rng, 22, "bravo", baseB)
			bBefore := b.fingerprint(t)
			callers := map[authz.Col]int64{authz.User: a.users[0], authz.Settings: a.users[1], authz.AppAdmin: a.users[2],
				authz.DealAdmin: a.users[3], authz.GlobalAdmin: a.users[4]}
			ctxs := authz.Contexts(t, e.Instance, a.c.id, b.c.id, a.users[2], callers, b.users[0])
			cols := []authz.Col{authz.User, authz.Settings, authz.AppAdmin, authz.DealAdmin, authz.GlobalAdmin, authz.Service}
			sample := func(ids []int64) []int64 {
				ids = slices.Clone(ids)
				rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
				return ids[:min(3, len(ids))]
			}
			calls := 0
			byCode := map[string]int{} // answers to B's ids by code, for the log
			call := func(c authz.Col, method string, req proto.Message) (proto.Message, error) {
				calls++
				return servicetest.Invoke(ctxs[c], e.Conn, sd.Methods().ByName(protoreflect.Name(method)), req)
			}
			for _, p := range sealProbes(a) {
				for _, c := range cols {
					cl := cell{t: t, col: c}
					var foreign []*visibilityv1.ItemRef
					switch p.kind {
					case kUser:
						for _, id := range sample(b.users) {
							foreign = append(foreign, ref(0, id))
						}
					case kGroup:
						for _, id := range sample(b.groups) {
							foreign = append(foreign, ref(0, id))
						}
					case kPipeline:
						for _, id := range sample(b.pipelines) {
							foreign = append(foreign, ref(0, id))
						}
					case kItem:
						its := slices.Clone(b.items)
						rng.Shuffle(len(its), func(i, j int) { its[i], its[j] = its[j], its[i] })
						foreign = its[:3]
					}
					for i, f := range foreign {
						unused := never + int64(i)
						resp, err := call(c, p.method, p.build(cl, f.GetId(), f.GetType()))
						got := normalize(scrubbed(resp), err, f.GetId())
						byCode[status.Code(err).String()]++
						nresp, nerr := call(c, p.method, p.build(cl, unused, f.GetType()))
						ref := normalize(scrubbed(nresp), nerr, unused)
						if got != ref {
							t.Errorf("%s with B's %s %d in %s, as %v:\n  got  %s\n  want %s (as for an id that exists nowhere)",
								p.method, f.GetType(), f.GetId(), p.field, c, got, ref)
						}
						if l := b.leaks(got, f.GetId()); len(l) > 0 {
							t.Errorf("%s with B's id %d in %s, as %v: the answer carries B's %v: %s", p.method, f.GetId(), p.field, c, l, got)
						}
					}
				}
			}

			// Lists and answers naming no id never include B's objects.
			for _, c := range cols {
				cl := cell{t: t, col: c}
				reqs := map[string][]proto.Message{
					"GetCompany": {&visibilityv1.GetCompanyRequest{}},
					"ListUsers":  {&visibilityv1.ListUsersRequest{PageSize: 1000}},
					"ListGroups": {&visibilityv1.ListGroupsRequest{}},
					"ListPipelines": {&visibilityv1.ListPipelinesRequest{},
						&visibilityv1.ListPipelinesRequest{UserId: callers[authz.User]}},
					"BatchCheckAccess": {&visibilityv1.BatchCheckAccessRequest{UserId: cl.actor(a.users[0]), Items: a.items}},
				}
				for _, t := range []visibilityv1.ItemType{deal, lead, person, org, product} {
					reqs["ListAccessibleItems"] = append(reqs["ListAccessibleItems"],
						&visibilityv1.ListAccessibleItemsRequest{UserId: cl.actor(a.users[0]), ItemType: t, PageSize: 1000})
					reqs["LookupAccessFilter"] = append(reqs["LookupAccessFilter"],
						&visibilityv1.LookupAccessFilterRequest{UserId: cl.actor(a.users[0]), ItemType: t})
				}
				for _, it := range a.items[:3] {
					reqs["ListItemViewers"] = append(reqs["ListItemViewers"], &visibilityv1.ListItemViewersRequest{Item: it, PageSize: 1000})
					reqs["ExplainAccess"] = append(reqs["ExplainAccess"], &visibilityv1.ExplainAccessRequest{UserId: cl.actor(a.users[0]), Item: it})
				}
				for method, rs := range reqs {
					for _, req := range rs {
						resp, err := call(c, method, req)
						if l := b.leaks(normalize(scrubbed(resp), err), 0); len(l) > 0 {
							t.Errorf("%s as %v: the answer carries B's %v", method, c, l)
						}
					}
				}
			}

			// Ids are per company: A may create objects with ids B uses,
			// which neither fails (that would tell B uses them) nor touches B.
			for _, id := range sample(b.users) {
				r := servicetest.Try(a.c.c.UpsertUser(a.c.svc, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: id, Name: "alpha twin", Active: true}})).Must(t)
				if !r.GetCreated() {
					t.Errorf("UpsertUser in A with B's user id %d: not created", id)
				}
			}
			for _, id := range sample(b.pipelines) {
				if r := servicetest.Try(a.c.c.UpsertPipeline(a.c.svc, &visibilityv1.UpsertPipelineRequest{Pipeline: &visibilityv1.Pipeline{Id: id, Name: "alpha twin"}})).Must(t); !r.GetCreated() {
					t.Errorf("UpsertPipeline in A with B's pipeline id %d: not created", id)
				}
			}
			for _, it := range b.items[:3] {
				if r := a.c.item(a.users[2], &visibilityv1.Item{Type: it.GetType(), Id: it.GetId()}); !r.GetCreated() {
					t.Errorf("UpsertItem in A with B's item %v: not created", it)
				}
			}
			if after := b.fingerprint(t); after != bBefore {
				t.Errorf("company B changed through company A's calls:\nbefore:\n%s\nafter:\n%s", bBefore, after)
			}
			t.Logf("%d calls; answers to B's ids by code: %v", calls, byCode)
		})
	}
}
