package mailbox_test

// TestSealing_MailboxOtherCompanyIDs: two companies with random mail
// (threads, messages, accounts, persons, deals, shares and links); every RPC
// that takes an id is called by users and the service of company A with
// company B's ids, and must answer exactly as for an id that exists nowhere:
// the same code, the same ErrorInfo reason, the same message except for the
// id (V9, M1, M2). No answer may carry B's subjects, names or addresses, and
// no list of A's may include B's threads.
//
// Timing is not asserted (the machines running the tests are noisy). It
// does not tell the two cases apart either: every lookup is keyed by
// (company_id, id) (and the owner for one's own mail), so an id of another
// company and an id that exists nowhere run the same query and miss the same way.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// mworld is one company's random mail.
type mworld struct {
	company  int64
	tag      string
	svc      context.Context
	users    []int64
	persons  []int64
	deals    []int64
	threads  []int64
	owner    map[int64]int64 // thread -> owner
	messages []int64
	accounts []int64
	acctUser map[int64]int64
}

func randomMail(t *testing.T, e *env, rng *rand.Rand, company int64, tag string, base int64) *mworld {
	w := &mworld{company: company, tag: tag, svc: e.Service(t, company), owner: map[int64]int64{}, acctUser: map[int64]int64{}}
	addr := func(u int64) string { return fmt.Sprintf("%s.%d@%s.test", tag, u, tag) }
	for i := range 3 + rng.IntN(3) {
		u := base + int64(i)
		w.users = append(w.users, u)
		servicetest.Try(e.mb.SetUserAddresses(w.svc, &mailboxv1.SetUserAddressesRequest{UserId: u, EmailAddresses: []string{addr(u)}})).Must(t)
	}
	var personAddr []string
	for i := range 3 + rng.IntN(4) {
		p := base + 200_000 + int64(i)
		a := fmt.Sprintf("%s.p%d@%s-customer.test", tag, i, tag)
		servicetest.Try(e.mb.UpsertPerson(w.svc, &mailboxv1.UpsertPersonRequest{PersonId: p, Name: fmt.Sprintf("%s person %d", tag, i),
			Emails: []string{a}, OrganizationId: base + 250_000 + int64(rng.IntN(2))})).Must(t)
		w.persons = append(w.persons, p)
		personAddr = append(personAddr, a)
	}
	for i := range 2 + rng.IntN(3) {
		d := base + 300_000 + int64(i)
		st := mailboxv1.DealStatus_DEAL_STATUS_OPEN
		if rng.IntN(4) == 0 {
			st = mailboxv1.DealStatus_DEAL_STATUS_WON
		}
		servicetest.Try(e.mb.UpsertDeal(w.svc, &mailboxv1.UpsertDealRequest{DealId: d, Status: st,
			PersonIds: []int64{w.persons[rng.IntN(len(w.persons))]}})).Must(t)
		w.deals = append(w.deals, d)
	}
	// Visibility: the first user sees every deal and person of the company
	// (an app admin: visibility says yes for the items that exist, not for
	// any id), the others random deals.
	for _, d := range w.deals {
		e.vis.Allow(company, w.users[0], visibilityclient.Item{Type: visibilityclient.Deal, ID: d})
	}
	for _, p := range w.persons {
		e.vis.Allow(company, w.users[0], visibilityclient.Item{Type: visibilityclient.Person, ID: p})
	}
	for _, u := range w.users[1:] {
		for _, d := range w.deals {
			if rng.IntN(2) == 0 {
				e.vis.Allow(company, u, visibilityclient.Item{Type: visibilityclient.Deal, ID: d})
			}
		}
	}
	for n := range 8 + rng.IntN(8) {
		u := w.users[rng.IntN(len(w.users))]
		from, to := personAddr[rng.IntN(len(personAddr))], addr(u)
		if rng.IntN(3) == 0 {
			from, to = to, from
		}
		raw := rawMessage(fmt.Sprintf("%s-%d@%s.test", tag, n, tag), from, to, fmt.Sprintf("%s subject %d", tag, n%5))
		r := servicetest.Try(e.mb.IngestMessage(w.svc, &mailboxv1.IngestMessageRequest{UserId: u, Folder: "INBOX", Raw: raw})).Must(t)
		w.messages = append(w.messages, r.GetMessageId())
		if _, seen := w.owner[r.GetThreadId()]; !seen {
			w.threads = append(w.threads, r.GetThreadId())
			w.owner[r.GetThreadId()] = u
		}
	}
	for _, th := range w.threads {
		ctx := e.User(t, company, w.owner[th])
		if rng.IntN(2) == 0 {
			d := w.deals[rng.IntN(len(w.deals))]
			e.vis.Allow(company, w.owner[th], visibilityclient.Item{Type: visibilityclient.Deal, ID: d})
			servicetest.Try(e.mb.LinkThread(ctx, &mailboxv1.LinkThreadRequest{ThreadId: th, Replace: true,
				Target: &mailboxv1.LinkThreadRequest_DealId{DealId: d}})).Must(t)
		}
		if rng.IntN(2) == 0 {
			servicetest.Try(e.mb.ShareThreads(ctx, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{th}})).Must(t)
		}
	}
	for _, u := range w.users[:2] {
		a := accountAt(addr(u))
		a.DisplayName = tag + " account"
		r := servicetest.Try(e.mb.CreateMailAccount(e.User(t, company, u), &mailboxv1.CreateMailAccountRequest{MailAccount: a, Secret: "pw"})).Must(t)
		w.accounts = append(w.accounts, r.GetMailAccount().GetId())
		w.acctUser[r.GetMailAccount().GetId()] = u
	}
	return w
}

// fingerprint renders the world as its own users and service read it.
func (w *mworld) fingerprint(t testing.TB, e *env) string {
	t.Helper()
	var b strings.Builder
	for _, th := range w.threads {
		b.WriteString(render(servicetest.Try(e.mb.GetThread(e.User(t, w.company, w.owner[th]), &mailboxv1.GetThreadRequest{ThreadId: th})).Must(t)))
	}
	for _, a := range w.accounts {
		b.WriteString(render(servicetest.Try(e.mb.GetMailAccount(e.User(t, w.company, w.acctUser[a]), &mailboxv1.GetMailAccountRequest{MailAccountId: a})).Must(t)))
	}
	for _, u := range w.users {
		b.WriteString(render(servicetest.Try(e.mb.ListUserAddresses(w.svc, &mailboxv1.ListUserAddressesRequest{UserId: u})).Must(t)))
	}
	return b.String()
}

type mKind int

const (
	mkThread mKind = iota
	mkMessage
	mkAccount
	mkDeal
	mkPerson
	mkUser
)

type mProbe struct {
	method string
	field  string
	kind   mKind
	build  func(id int64) proto.Message
}

func mailProbes(a *mworld, ownThread, ownDeal int64) []mProbe {
	deal := func(id int64) *mailboxv1.ItemRef {
		return &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: id}
	}
	return []mProbe{
		{"GetThread", "thread_id", mkThread, func(id int64) proto.Message { return &mailboxv1.GetThreadRequest{ThreadId: id} }},
		{"ListThreadMessages", "thread_id", mkThread, func(id int64) proto.Message {
			return &mailboxv1.ListThreadMessagesRequest{ThreadId: id}
		}},
		{"UpdateThread", "thread.id", mkThread, func(id int64) proto.Message {
			return &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: id, Read: true}, UpdateMask: fieldMask("read")}
		}},
		{"ShareThreads", "thread_ids", mkThread, func(id int64) proto.Message {
			return &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{id}}
		}},
		{"ShareThreads", "thread_ids[1] (with one's own)", mkThread, func(id int64) proto.Message {
			return &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{ownThread, id}}
		}},
		{"UnshareThreads", "thread_ids", mkThread, func(id int64) proto.Message {
			return &mailboxv1.UnshareThreadsRequest{ThreadIds: []int64{id}}
		}},
		{"LinkThread", "thread_id", mkThread, func(id int64) proto.Message {
			return &mailboxv1.LinkThreadRequest{ThreadId: id, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: ownDeal}}
		}},
		{"UnlinkThread", "thread_id", mkThread, func(id int64) proto.Message { return &mailboxv1.UnlinkThreadRequest{ThreadId: id} }},
		{"CheckReplyPermission", "thread_id", mkThread, func(id int64) proto.Message {
			return &mailboxv1.CheckReplyPermissionRequest{ThreadId: id}
		}},
		{"SendThreadMessage", "thread_id", mkThread, func(id int64) proto.Message {
			return &mailboxv1.SendThreadMessageRequest{ThreadId: id, Mode: mailboxv1.SendMode_SEND_MODE_REPLY, BodyText: "hi"}
		}},
		{"GetItemThread", "thread_id", mkThread, func(id int64) proto.Message {
			return &mailboxv1.GetItemThreadRequest{Item: deal(ownDeal), ThreadId: id}
		}},
		{"DeleteThread", "thread_id", mkThread, func(id int64) proto.Message { return &mailboxv1.DeleteThreadRequest{ThreadId: id} }},
		{"GetMessage", "message_id", mkMessage, func(id int64) proto.Message { return &mailboxv1.GetMessageRequest{MessageId: id} }},
		{"SendThreadMessage", "message_id", mkMessage, func(id int64) proto.Message {
			return &mailboxv1.SendThreadMessageRequest{ThreadId: ownThread, MessageId: id, Mode: mailboxv1.SendMode_SEND_MODE_REPLY, BodyText: "hi"}
		}},
		{"GetMailAccount", "mail_account_id", mkAccount, func(id int64) proto.Message {
			return &mailboxv1.GetMailAccountRequest{MailAccountId: id}
		}},
		{"UpdateMailAccount", "mail_account.id", mkAccount, func(id int64) proto.Message {
			return &mailboxv1.UpdateMailAccountRequest{MailAccount: &mailboxv1.MailAccount{Id: id, DisplayName: "probe"},
				UpdateMask: fieldMask("display_name")}
		}},
		{"SendThreadMessage", "mail_account_id", mkAccount, func(id int64) proto.Message {
			return &mailboxv1.SendThreadMessageRequest{ThreadId: ownThread, MailAccountId: id, Mode: mailboxv1.SendMode_SEND_MODE_REPLY, BodyText: "hi"}
		}},
		{"IngestMessage", "account_id", mkAccount, func(id int64) proto.Message {
			return &mailboxv1.IngestMessageRequest{UserId: a.users[0], AccountId: id, Folder: "INBOX",
				Raw: rawMessage("probe-"+strconv.FormatInt(id, 10)+"@x.test", "x@x.test", "y@x.test", "probe")}
		}},
		{"BatchIngestMessages", "account_id", mkAccount, func(id int64) proto.Message {
			return &mailboxv1.BatchIngestMessagesRequest{UserId: a.users[0], AccountId: id, Messages: []*mailboxv1.IngestMessageRequest{
				{Folder: "INBOX", Raw: rawMessage("probe-b-"+strconv.FormatInt(id, 10)+"@x.test", "x@x.test", "y@x.test", "probe")}}}
		}},
		{"DeleteMailAccount", "mail_account_id", mkAccount, func(id int64) proto.Message {
			return &mailboxv1.DeleteMailAccountRequest{MailAccountId: id}
		}},
		{"ListItemThreads", "item (deal)", mkDeal, func(id int64) proto.Message {
			return &mailboxv1.ListItemThreadsRequest{Item: deal(id)}
		}},
		{"GetItemThread", "item (deal)", mkDeal, func(id int64) proto.Message {
			return &mailboxv1.GetItemThreadRequest{Item: deal(id), ThreadId: ownThread}
		}},
		{"LinkThread", "deal_id", mkDeal, func(id int64) proto.Message {
			return &mailboxv1.LinkThreadRequest{ThreadId: ownThread, Target: &mailboxv1.LinkThreadRequest_DealId{DealId: id}}
		}},
		{"ListItemThreads", "item (person)", mkPerson, func(id int64) proto.Message {
			return &mailboxv1.ListItemThreadsRequest{Item: &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_PERSON, Id: id}}
		}},
		{"ListUserAddresses", "user_id", mkUser, func(id int64) proto.Message {
			return &mailboxv1.ListUserAddressesRequest{UserId: id}
		}},
		// Last: for an unknown id these may leave a mark (a tombstone) in A.
		{"DeletePerson", "person_id", mkPerson, func(id int64) proto.Message { return &mailboxv1.DeletePersonRequest{PersonId: id} }},
		{"DeleteDeal", "deal_id", mkDeal, func(id int64) proto.Message { return &mailboxv1.DeleteDealRequest{DealId: id} }},
	}
}

// mSealAnswer renders an answer (or error, with its details) with id replaced.
func mSealAnswer(resp proto.Message, err error, id int64) string {
	var s string
	if err != nil {
		st := status.Convert(err)
		s = "error " + st.Code().String() + ": " + st.Message()
		for _, d := range st.Details() {
			if m, isMsg := d.(proto.Message); isMsg {
				s += " | " + protojson.Format(m)
			}
		}
	} else {
		s = "ok " + render(resp)
	}
	return regexp.MustCompile(`\b`+strconv.FormatInt(id, 10)+`\b`).ReplaceAllString(s, "<id>")
}

func TestSealing_MailboxOtherCompanyIDs(t *testing.T) {
	sd := mailboxv1.File_sightline_mailbox_v1_mailbox_service_proto.Services().ByName("MailboxService")
	const never = int64(9_100_000)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			e := start(t)
			rng := rand.New(rand.NewPCG(seed, 0x5ea1))
			a := randomMail(t, e, rng, 11, "alpha", 100_000)
			b := randomMail(t, e, rng, 22, "bravo", 7_100_000)
			bBefore := b.fingerprint(t, e)
			bTag := regexp.MustCompile(`(?i)bravo`)

			// A's callers: the user who sees every item, another user, a user
			// with no mail at all, the service.
			callers := []struct {
				name string
				user int64 // 0: the service
			}{{"user who sees all", a.users[0]}, {"user", a.users[1]}, {"user with no mail", a.users[len(a.users)-1] + 1000}, {"service", 0}}
			pool := map[mKind][]int64{mkThread: b.threads, mkMessage: b.messages, mkAccount: b.accounts,
				mkDeal: b.deals, mkPerson: b.persons, mkUser: b.users}
			calls := 0
			codes := map[string]int{} // answers by code, for the log
			for _, c := range callers {
				name, ctx := c.name, a.svc
				if c.user != 0 {
					ctx = e.User(t, a.company, c.user)
				}
				// The caller's own thread, when it has one, and a deal of A.
				ownThread, ownDeal := a.threads[0], a.deals[0]
				for _, th := range a.threads {
					if a.owner[th] == c.user {
						ownThread = th
						break
					}
				}
				for _, p := range mailProbes(a, ownThread, ownDeal) {
					md := sd.Methods().ByName(protoreflect.Name(p.method))
					ids := slices.Clone(pool[p.kind])
					rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
					for i, id := range ids[:min(3, len(ids))] {
						unused := never + int64(i)
						resp, err := servicetest.Invoke(ctx, e.Conn, md, p.build(id))
						got := mSealAnswer(resp, err, id)
						nresp, nerr := servicetest.Invoke(ctx, e.Conn, md, p.build(unused))
						ref := mSealAnswer(nresp, nerr, unused)
						calls += 2
						codes[status.Code(err).String()]++
						if got != ref {
							t.Errorf("%s with B's id %d in %s, as %s:\n  got  %s\n  want %s (as for an id that exists nowhere)",
								p.method, id, p.field, name, got, ref)
						}
						if bTag.MatchString(got) {
							t.Errorf("%s with B's id %d in %s, as %s: the answer carries B's data: %s", p.method, id, p.field, name, got)
						}
					}
				}
			}

			// A's lists never include B's threads.
			for _, u := range a.users {
				ctx := e.User(t, a.company, u)
				for _, f := range []mailboxv1.Folder{mailboxv1.Folder_FOLDER_INBOX, mailboxv1.Folder_FOLDER_SENT, mailboxv1.Folder_FOLDER_ARCHIVE} {
					r := servicetest.Try(e.mb.ListThreads(ctx, &mailboxv1.ListThreadsRequest{Folder: f, PageSize: 500})).Must(t)
					checkNoB(t, b, r.GetThreads(), render(r), fmt.Sprintf("ListThreads %v as A's user %d", f, u))
				}
				for _, d := range a.deals {
					r, err := e.mb.ListItemThreads(ctx, &mailboxv1.ListItemThreadsRequest{Item: &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: d}, PageSize: 500})
					if err == nil {
						checkNoB(t, b, r.GetThreads(), render(r), fmt.Sprintf("ListItemThreads deal %d as A's user %d", d, u))
					}
				}
				r := servicetest.Try(e.mb.ListMailAccounts(ctx, &mailboxv1.ListMailAccountsRequest{})).Must(t)
				if s := render(r); bTag.MatchString(s) {
					t.Errorf("ListMailAccounts as A's user %d carries B's data: %s", u, s)
				}
			}
			if after := b.fingerprint(t, e); after != bBefore {
				t.Errorf("company B changed through company A's calls:\nbefore:\n%s\nafter:\n%s", bBefore, after)
			}
			t.Logf("%d probe calls; answers to B's ids by code: %v", calls, codes)
		})
	}
}

func checkNoB(t *testing.T, b *mworld, threads []*mailboxv1.Thread, rendered, what string) {
	t.Helper()
	for _, th := range threads {
		if slices.Contains(b.threads, th.GetId()) {
			t.Errorf("%s lists B's thread %d", what, th.GetId())
		}
	}
	if strings.Contains(strings.ToLower(rendered), b.tag) {
		t.Errorf("%s carries B's data: %s", what, rendered)
	}
}
