package mailbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/mailbox/internal/dovecottest"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// Fast sync settings for tests: every interval short, so that waits end
// quickly (the tests poll with deadlines and never assert a speed).
var fastSync = []string{
	"--sync-poll-interval", "100ms",
	"--sync-idle-timeout", "2s",
	"--sync-lease-ttl", "2s",
	"--sync-retry-min", "100ms",
	"--sync-retry-max", "500ms",
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "pw-" + hex.EncodeToString(b)
}

// imapAccount is the request connecting the Dovecot user as the owner's account.
func imapAccount(t testing.TB, dv *dovecottest.Server, email, username string, folders ...string) *mailboxv1.MailAccount {
	t.Helper()
	host, port, err := net.SplitHostPort(dv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return &mailboxv1.MailAccount{
		EmailAddress: email,
		Imap:         &mailboxv1.ServerSettings{Host: host, Port: int32(p), Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
		Smtp:         &mailboxv1.ServerSettings{Host: host, Port: 25, Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
		Username:     username,
		AuthKind:     mailboxv1.AuthKind_AUTH_KIND_PASSWORD,
		SyncOptions:  &mailboxv1.SyncOptions{Folders: folders},
	}
}

func (e *env) connect(t testing.TB, user int64, a *mailboxv1.MailAccount, secret string) int64 {
	t.Helper()
	r, err := e.mb.CreateMailAccount(e.u(t, user), &mailboxv1.CreateMailAccountRequest{MailAccount: a, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetMailAccount().GetId()
}

func (e *env) account(t testing.TB, user, id int64) *mailboxv1.MailAccount {
	t.Helper()
	r, err := e.mb.GetMailAccount(e.u(t, user), &mailboxv1.GetMailAccountRequest{MailAccountId: id})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetMailAccount()
}

// waitFor polls cond every 50 ms for up to 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitForUpTo(t, 30*time.Second, what, cond)
}

func waitForUpTo(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// synced waits until the account's status is SYNCED with every folder's
// initial window done, and returns the status.
func (e *env) synced(t testing.TB, user, id int64) *mailboxv1.SyncStatus {
	t.Helper()
	var st *mailboxv1.SyncStatus
	waitFor(t, fmt.Sprintf("account %d to be synced", id), func() bool {
		st = e.account(t, user, id).GetSyncStatus()
		if st.GetState() != mailboxv1.SyncState_SYNC_STATE_SYNCED || len(st.GetFolders()) == 0 {
			return false
		}
		for _, f := range st.GetFolders() {
			if f.GetMessagesDone() != f.GetMessagesTotal() || f.GetLastSuccessTime() == nil {
				return false
			}
		}
		return true
	})
	return st
}

// count runs a count query.
func (e *env) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	return scalar(t, e.pool, sql, args...)
}

// appendAt APPENDs a message with an INTERNALDATE and flags.
func appendAt(t testing.TB, dv *dovecottest.Server, user, pass, mailbox string, at time.Time, flags []imap.Flag, raws ...[]byte) []imap.UID {
	t.Helper()
	c := dv.Login(t, user, pass)
	var uids []imap.UID
	for _, raw := range raws {
		cmd := c.Append(mailbox, int64(len(raw)), &imap.AppendOptions{Time: at, Flags: flags})
		if _, err := cmd.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := cmd.Wait()
		if err != nil {
			t.Fatalf("append to %s: %v", mailbox, err)
		}
		uids = append(uids, data.UID)
	}
	_ = c.Logout().Wait()
	return uids
}

// syncEnv is a mailbox with fast sync and a Dovecot with alice's mailbox.
type syncEnv struct {
	*env
	dv   *dovecottest.Server
	pass string
}

func startSyncEnv(t *testing.T, extra ...string) *syncEnv {
	t.Helper()
	return startSyncEnvWith(t, nil, extra...)
}

// startSyncEnvWith is startSyncEnv with options for the Dovecot.
func startSyncEnvWith(t *testing.T, dvOpts []dovecottest.Option, extra ...string) *syncEnv {
	t.Helper()
	pass := randomPassword()
	dv := dovecottest.Start(t, append([]dovecottest.Option{dovecottest.WithUser("alice", pass)}, dvOpts...)...)
	e := start(t, append(slices.Clone(fastSync), extra...)...)
	return &syncEnv{env: e, dv: dv, pass: pass}
}

func (s *syncEnv) connectAlice(t testing.TB, folders ...string) int64 {
	t.Helper()
	return s.connect(t, owner, imapAccount(t, s.dv, alice, "alice", folders...), s.pass)
}

func (s *syncEnv) appendNow(t testing.TB, mailbox string, ms ...mail) []imap.UID {
	t.Helper()
	raws := make([][]byte, len(ms))
	for i, m := range ms {
		raws[i] = m.raw()
	}
	return appendAt(t, s.dv, "alice", s.pass, mailbox, time.Now().Add(-time.Hour), nil, raws...)
}

func (s *syncEnv) threadOf(t testing.TB, messageID string) (int64, bool) {
	t.Helper()
	var id int64
	err := s.pool.QueryRow(context.Background(), `SELECT thread_id FROM messages WHERE internet_message_id = $1`, messageID).Scan(&id)
	if err != nil {
		return 0, false
	}
	return id, true
}

func TestS1_InitialSyncWindowAndFolders(t *testing.T) {
	s := startSyncEnv(t)
	recent := time.Now().Add(-2 * time.Hour)
	old := time.Now().Add(-10 * 24 * time.Hour)
	in1 := inbound("in1@customer.test", "Pricing question")
	in2 := mail{ID: "in2@customer.test", From: "Dave <" + dave + ">", To: alice, Subject: "Meeting next week"}
	// Alice wrote to carol with herself in Cc: the same message is in INBOX and Sent.
	both := mail{ID: "both@acme.test", From: "Alice <" + alice + ">", To: carol, Cc: alice, Subject: "Proposal"}
	out1 := mail{ID: "out1@acme.test", From: "Alice <" + alice + ">", To: dave, Subject: "Follow-up"}
	old1 := inbound("old1@customer.test", "Last month")
	old2 := inbound("old2@customer.test", "Last month too")
	appendAt(t, s.dv, "alice", s.pass, "INBOX", recent, nil, in1.raw(), in2.raw(), both.raw())
	appendAt(t, s.dv, "alice", s.pass, "INBOX", old, nil, old1.raw(), old2.raw())
	appendAt(t, s.dv, "alice", s.pass, "Sent", recent, []imap.Flag{imap.FlagSeen}, out1.raw(), both.raw())

	id := s.connectAlice(t)
	st := s.synced(t, owner, id)

	names := map[string]*mailboxv1.FolderSyncStatus{}
	for _, f := range st.GetFolders() {
		names[f.GetName()] = f
	}
	if names["INBOX"].GetMessagesTotal() != 3 || names["Sent"].GetMessagesTotal() != 2 || len(names) != 2 {
		t.Fatalf("folders %v: want INBOX with 3 messages of the window and Sent with 2", st.GetFolders())
	}
	// The window skipped the old mail; the message in both folders is stored once (S3).
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages stored, want 4", n)
	}
	for _, m := range []mail{old1, old2} {
		if _, ok := s.threadOf(t, m.ID); ok {
			t.Fatalf("%s is outside the 3-day window but was stored", m.ID)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM message_locations l JOIN messages m ON m.id = l.message_id
		WHERE m.internet_message_id = 'both@acme.test'`); n != 2 {
		t.Fatalf("the message in INBOX and Sent has %d locations, want 2", n)
	}
	var folders []string
	if err := s.pool.QueryRow(context.Background(), `SELECT folders FROM messages WHERE internet_message_id = 'both@acme.test'`).Scan(&folders); err != nil {
		t.Fatal(err)
	}
	slices.Sort(folders)
	if strings.Join(folders, ",") != "INBOX,Sent" {
		t.Fatalf("folders of the message in both: %v", folders)
	}
	// Through the API: inbound mail in the inbox, alice's own in Sent.
	me := s.u(t, owner)
	inboxIDs, sentIDs := folderIDs(t, s.mb, me, inbox), folderIDs(t, s.mb, me, sent)
	t1, _ := s.threadOf(t, in1.ID)
	t2, _ := s.threadOf(t, in2.ID)
	tb, _ := s.threadOf(t, both.ID)
	to, _ := s.threadOf(t, out1.ID)
	if !slices.Contains(inboxIDs, t1) || !slices.Contains(inboxIDs, t2) || len(inboxIDs) != 2 {
		t.Fatalf("inbox %v, want %d and %d", inboxIDs, t1, t2)
	}
	if !slices.Contains(sentIDs, tb) || !slices.Contains(sentIDs, to) || len(sentIDs) != 2 {
		t.Fatalf("sent %v, want %d and %d", sentIDs, tb, to)
	}
	if th := s.thread(t, owner, to); !th.GetRead() {
		t.Fatal("a message \\Seen at the provider should be read")
	}
	if th := s.thread(t, owner, t1); th.GetRead() {
		t.Fatal("an unseen message should be unread")
	}

	// The window extended to a month (S1): the older mail is synced now.
	if _, err := s.mb.UpdateMailAccount(s.u(t, owner), &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: id, SyncOptions: &mailboxv1.SyncOptions{
			InitialWindow: mailboxv1.SyncWindow_SYNC_WINDOW_1_MONTH}},
		UpdateMask: mask("sync_options")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the older mail after the window was extended", func() bool {
		_, ok1 := s.threadOf(t, old1.ID)
		_, ok2 := s.threadOf(t, old2.ID)
		return ok1 && ok2
	})
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 6 {
		t.Fatalf("%d messages after the window was extended, want 6", n)
	}
}

func TestS6_SyncStatusReportsProgress(t *testing.T) {
	// Small batches: the initial sync takes 200 commits, so that the test
	// stops it in the middle however fast the machine syncs.
	s := startSyncEnv(t, "--sync-batch-size", "2")
	const n = 400
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = inbound(fmt.Sprintf("p%d@customer.test", i), fmt.Sprintf("Progress %d", i)).raw()
	}
	appendAt(t, s.dv, "alice", s.pass, "INBOX", time.Now().Add(-time.Hour), nil, raws...)

	// Before a worker gets to it the account is PENDING; without a secret, NO_SECRET.
	noSecret := s.connect(t, owner, imapAccount(t, s.dv, "alice.nosecret@acme.test", "alice"), "")
	if st := s.account(t, owner, noSecret).GetSyncStatus(); st.GetState() != mailboxv1.SyncState_SYNC_STATE_NO_SECRET {
		t.Fatalf("an account without a secret: %v", st)
	}

	id := s.connectAlice(t, "INBOX")
	// Once the first batches are in, hold the next ones (every commit of the
	// sync waits for the lease row) and look at the status in the middle of
	// the initial sync. The progress is read with the row held, so that no
	// batch lands between the look and the hold, and polled tightly.
	var tx pgx.Tx
	t.Cleanup(func() {
		if tx != nil {
			_ = tx.Rollback(context.Background())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if tx, err = s.pool.Begin(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(context.Background(), `SELECT 1 FROM account_sync WHERE account_id = $1 FOR UPDATE`, id); err != nil {
			t.Fatal(err)
		}
		var done int64
		if err := tx.QueryRow(context.Background(), `SELECT coalesce(max(messages_done), 0) FROM sync_folders
			WHERE account_id = $1 AND name = 'INBOX'`, id).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done >= 10 {
			break
		}
		_ = tx.Rollback(context.Background())
		if time.Now().After(deadline) {
			t.Fatal("timed out after 30s waiting for the first batches")
		}
	}
	time.Sleep(200 * time.Millisecond)
	mid := s.account(t, owner, id).GetSyncStatus()
	_ = tx.Rollback(context.Background())
	t.Logf("in the middle: %v", mid)
	if mid.GetState() != mailboxv1.SyncState_SYNC_STATE_INITIAL_SYNC {
		t.Fatalf("state in the middle of the initial sync: %v", mid.GetState())
	}
	if mf := inboxOf(mid); mf.GetMessagesTotal() != n || mf.GetMessagesDone() <= 0 || mf.GetMessagesDone() >= n || mf.GetUidValidity() == 0 {
		t.Fatalf("progress in the middle: %v", mf)
	}
	st := s.synced(t, owner, id)
	f := st.GetFolders()[0]
	if f.GetName() != "INBOX" || f.GetMessagesDone() != n || f.GetMessagesTotal() != n || f.GetUidNext() != n+1 ||
		f.GetHighestModseq() == 0 || f.GetLastError() != "" || st.GetLastSuccessTime() == nil || st.GetLastError() != "" {
		t.Fatalf("status after the sync: %v", st)
	}
	if c := s.count(t, `SELECT count(*) FROM messages`); c != n {
		t.Fatalf("%d messages, want %d", c, n)
	}
	// List shows the status too.
	r, err := s.mb.ListMailAccounts(s.u(t, owner), &mailboxv1.ListMailAccountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.GetMailAccounts() {
		if a.GetSyncStatus() == nil {
			t.Fatalf("ListMailAccounts without a sync status: %v", a)
		}
	}
}

// onlyIdle: no polling worth the name, so new mail can only come through IDLE.
var onlyIdle = []string{"--sync-poll-interval", "1h", "--sync-idle-timeout", "29m"}

func TestS1_NewMailArrivesDuringIdle(t *testing.T) {
	s := startSyncEnv(t, onlyIdle...)
	s.appendNow(t, "INBOX", inbound("first@customer.test", "Before"))
	id := s.connectAlice(t)
	s.synced(t, owner, id)
	me := s.u(t, owner)
	if got := folderIDs(t, s.mb, me, inbox); len(got) != 1 {
		t.Fatalf("inbox %v", got)
	}
	for i := range 3 {
		m := inbound(fmt.Sprintf("idle%d@customer.test", i), fmt.Sprintf("Arrives during IDLE %d", i))
		start := time.Now()
		s.dv.Append(t, "alice", "INBOX", m.raw())
		waitFor(t, "the new message in the inbox", func() bool {
			tid, ok := s.threadOf(t, m.ID)
			return ok && slices.Contains(folderIDs(t, s.mb, me, inbox), tid)
		})
		t.Logf("message %d listed %v after APPEND", i, time.Since(start).Round(time.Millisecond))
	}
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages, want 4", n)
	}
}

func TestS1_FlagChangeByCondstore(t *testing.T) {
	s := startSyncEnv(t, onlyIdle...)
	m := inbound("flag@customer.test", "Flag me")
	uid := s.appendNow(t, "INBOX", m)[0]
	id := s.connectAlice(t)
	before := s.synced(t, owner, id)
	tid, _ := s.threadOf(t, m.ID)
	if s.thread(t, owner, tid).GetRead() {
		t.Fatal("unseen at the provider, read here")
	}
	u := strconv.Itoa(int(uid))
	s.dv.Doveadm(t, "flags", "add", "-u", "alice", `\Seen`, "mailbox", "INBOX", "uid", u)
	waitFor(t, "the thread to become read", func() bool { return s.thread(t, owner, tid).GetRead() })
	s.dv.Doveadm(t, "flags", "remove", "-u", "alice", `\Seen`, "mailbox", "INBOX", "uid", u)
	waitFor(t, "the thread to become unread", func() bool { return !s.thread(t, owner, tid).GetRead() })
	// The folder's HIGHESTMODSEQ moved on with the changes.
	var after *mailboxv1.SyncStatus
	waitFor(t, "HIGHESTMODSEQ to move", func() bool {
		after = s.account(t, owner, id).GetSyncStatus()
		return inboxOf(after).GetHighestModseq() > inboxOf(before).GetHighestModseq()
	})
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func inboxOf(st *mailboxv1.SyncStatus) *mailboxv1.FolderSyncStatus {
	for _, f := range st.GetFolders() {
		if f.GetName() == "INBOX" {
			return f
		}
	}
	return nil
}

func TestM6_ExpungeAtProviderDeletesHere(t *testing.T) {
	s := startSyncEnv(t)
	alone := inbound("alone@customer.test", "Alone")
	both := mail{ID: "both2@acme.test", From: "Alice <" + alice + ">", To: carol, Cc: alice, Subject: "In both folders"}
	first := inbound("first2@customer.test", "Conversation")
	reply := mail{ID: "reply2@customer.test", From: customer, To: alice, Subject: "Re: Conversation",
		InReplyTo: "<first2@customer.test>", References: "<first2@customer.test>", Date: "Mon, 02 Mar 2026 11:00:00 +0000"}
	uids := s.appendNow(t, "INBOX", alone, both, first, reply)
	s.appendNow(t, "Sent", both)
	id := s.connectAlice(t)
	s.synced(t, owner, id)
	tAlone, _ := s.threadOf(t, alone.ID)
	tBoth, _ := s.threadOf(t, both.ID)
	tConv, _ := s.threadOf(t, first.ID)
	if tr, _ := s.threadOf(t, reply.ID); tr != tConv || s.thread(t, owner, tConv).GetMessageCount() != 2 {
		t.Fatal("the reply should join the conversation")
	}
	expunge := func(uid imap.UID) {
		s.dv.Doveadm(t, "expunge", "-u", "alice", "mailbox", "INBOX", "uid", strconv.Itoa(int(uid)))
	}
	expunge(uids[0]) // alone
	expunge(uids[1]) // both: still in Sent
	expunge(uids[2]) // the conversation's first message
	waitFor(t, "the expunged messages to be deleted", func() bool {
		return s.count(t, `SELECT count(*) FROM messages`) == 2
	})
	_, err := s.mb.GetThread(s.u(t, owner), &mailboxv1.GetThreadRequest{ThreadId: tAlone})
	wantCode(t, err, codes.NotFound, "")
	if th := s.thread(t, owner, tBoth); th.GetMessageCount() != 1 {
		t.Fatalf("the message still in Sent: %v", th)
	}
	var folders []string
	if err := s.pool.QueryRow(context.Background(), `SELECT folders FROM messages WHERE internet_message_id = $1`, both.ID).Scan(&folders); err != nil {
		t.Fatal(err)
	}
	if strings.Join(folders, ",") != "Sent" {
		t.Fatalf("folders of the message left in Sent: %v", folders)
	}
	conv := s.thread(t, owner, tConv)
	if conv.GetMessageCount() != 1 || !strings.Contains(conv.GetSnippet(), "Re: Conversation") ||
		!conv.GetFirstMessageTime().AsTime().Equal(conv.GetLastMessageTime().AsTime()) {
		t.Fatalf("the conversation after its first message was expunged: %v", conv)
	}
	if _, ok := s.threadOf(t, first.ID); ok {
		t.Fatal("the expunged first message is still here")
	}
	if slices.Contains(folderIDs(t, s.mb, s.u(t, owner), inbox), tAlone) {
		t.Fatal("the deleted thread is still listed")
	}
}

func TestS1_UIDValidityChangeResyncsWithoutDuplicates(t *testing.T) {
	s := startSyncEnv(t)
	ms := []mail{inbound("v1@customer.test", "Validity 1"), inbound("v2@customer.test", "Validity 2"), inbound("v3@customer.test", "Validity 3")}
	s.appendNow(t, "INBOX", ms...)
	id := s.connectAlice(t)
	st := s.synced(t, owner, id)
	old := inboxOf(st).GetUidValidity()
	threadsBefore := s.count(t, `SELECT count(*) FROM threads`)
	s.dv.Doveadm(t, "mailbox", "update", "-u", "alice", "--uid-validity", "42", "INBOX")
	waitFor(t, "the new UIDVALIDITY", func() bool {
		f := inboxOf(s.account(t, owner, id).GetSyncStatus())
		return f.GetUidValidity() == 42 && f.GetMessagesDone() == 3 && f.GetMessagesTotal() == 3
	})
	s.synced(t, owner, id)
	if old == 42 {
		t.Fatal("the UIDVALIDITY did not change")
	}
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 3 {
		t.Fatalf("%d messages after the re-sync, want 3", n)
	}
	if n := s.count(t, `SELECT count(*) FROM threads`); n != threadsBefore {
		t.Fatalf("%d threads after the re-sync, want %d", n, threadsBefore)
	}
	if n := s.count(t, `SELECT count(*) FROM message_locations WHERE folder = 'INBOX' AND uid_validity = 42 AND message_id IS NOT NULL`); n != 3 {
		t.Fatalf("%d locations under the new UIDVALIDITY, want 3", n)
	}
	// Incremental sync goes on under the new UIDVALIDITY.
	m := inbound("v4@customer.test", "Validity 4")
	s.dv.Append(t, "alice", "INBOX", m.raw())
	waitFor(t, "new mail after the change", func() bool { _, ok := s.threadOf(t, m.ID); return ok })
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages, want 4", n)
	}
}

// S1/S3: a message moved at the provider from one synced folder to another
// keeps its message, thread, sharing and links here, whichever folder the
// pass looks at first. (The first folder's expunge check deleted it before
// the second found it, and it came back as a new message in a new thread,
// private and unlinked.)
func TestS1_MessageMovedBetweenSyncedFoldersKeepsItsThread(t *testing.T) {
	s := startSyncEnv(t)
	c := s.dv.Login(t, "alice", s.pass)
	if err := c.Create("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	_ = c.Logout().Wait()
	m := inbound("moved@customer.test", "Filed in Projects, then back to INBOX")
	s.appendNow(t, "Projects", m)
	// INBOX is synced last in a pass: the move from Projects to INBOX is the
	// order that deleted.
	id := s.connectAlice(t, "INBOX", "Projects")
	s.synced(t, owner, id)
	thread, _ := s.threadOf(t, m.ID)
	if _, err := s.mb.ShareThreads(s.u(t, owner), &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{thread}}); err != nil {
		t.Fatal(err)
	}
	before := s.count(t, `SELECT id FROM messages WHERE internet_message_id = $1`, m.ID)

	s.dv.Doveadm(t, "move", "-u", "alice", "INBOX", "mailbox", "Projects", "HEADER", "Message-ID", m.ID)
	waitFor(t, "the message's location in INBOX", func() bool {
		return s.count(t, `SELECT count(*) FROM message_locations WHERE folder = 'INBOX' AND message_id IS NOT NULL`) == 1
	})
	s.passes(t, id, 2)
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 1 {
		t.Fatalf("%d messages, want the one moved", n)
	}
	if after := s.count(t, `SELECT id FROM messages WHERE internet_message_id = $1`, m.ID); after != before {
		t.Fatalf("message %d became %d: it was deleted and stored again", before, after)
	}
	if th := s.thread(t, owner, thread); !th.GetShared() {
		t.Fatalf("thread %v is no longer shared", th)
	}
	if n := s.count(t, `SELECT count(*) FROM message_locations WHERE folder = 'Projects'`); n != 0 {
		t.Fatalf("%d locations left in Projects", n)
	}
}

// S1: a folder deleted and created again at the provider has a new
// UIDVALIDITY and, here, every old message under another UID (a new
// message took UID 1 and the old ones were copied in reverse order). The
// re-sync stores the new message, duplicates nothing, and every location
// names the message that is at that UID now.
// A chosen folder that does not exist when the account is connected is
// synced once it is created at the provider: every pass lists the folders
// again, and the session holding the account goes on meanwhile.
func TestS1_FolderCreatedLaterIsSynced(t *testing.T) {
	s := startSyncEnv(t)
	early := inbound("early@customer.test", "Before Projects existed")
	s.appendNow(t, "INBOX", early)
	id := s.connectAlice(t, "INBOX", "Projects")
	waitFor(t, "the INBOX message", func() bool { _, ok := s.threadOf(t, early.ID); return ok })
	leased := strings.Count(s.Logs(), "mail account leased")

	s.dv.Doveadm(t, "mailbox", "create", "-u", "alice", "Projects")
	later := inbound("later@customer.test", "Filed in Projects")
	s.appendNow(t, "Projects", later)
	waitFor(t, "the Projects message", func() bool { _, ok := s.threadOf(t, later.ID); return ok })
	if n := strings.Count(s.Logs(), "mail account leased"); n != leased {
		t.Fatalf("the account was leased %d more times: the folder should be found by the session holding it", n-leased)
	}
	var found bool
	for _, f := range s.synced(t, owner, id).GetFolders() {
		found = found || f.GetName() == "Projects" && f.GetMessagesDone() == 1
	}
	if !found {
		t.Fatal("no status for Projects with its message")
	}
}

func TestS1_UIDValidityChangeWithRenumberedUIDs(t *testing.T) {
	s := startSyncEnv(t)
	s.dv.Doveadm(t, "mailbox", "create", "-u", "alice", "Projects")
	ms := []mail{inbound("r1@customer.test", "Renumbered 1"), inbound("r2@customer.test", "Renumbered 2"),
		inbound("r3@customer.test", "Renumbered 3")}
	oldUIDs := s.appendNow(t, "Projects", ms...)
	id := s.connectAlice(t, "Projects")
	folder := func(st *mailboxv1.SyncStatus) *mailboxv1.FolderSyncStatus {
		for _, f := range st.GetFolders() {
			if f.GetName() == "Projects" {
				return f
			}
		}
		return nil
	}
	old := folder(s.synced(t, owner, id)).GetUidValidity()

	fresh := inbound("r4@customer.test", "Renumbered 4")
	s.dv.Doveadm(t, "mailbox", "create", "-u", "alice", "Projects.new")
	s.appendNow(t, "Projects.new", fresh)
	c := s.dv.Login(t, "alice", s.pass)
	if _, err := c.Select("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := len(oldUIDs) - 1; i >= 0; i-- {
		if _, err := c.Copy(imap.UIDSetNum(oldUIDs[i]), "Projects.new").Wait(); err != nil {
			t.Fatalf("copy: %v", err)
		}
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	// A pass may come between the delete and the rename and find no
	// Projects: the next one lists the folders again and finds the new one.
	s.dv.Doveadm(t, "mailbox", "delete", "-u", "alice", "Projects")
	s.dv.Doveadm(t, "mailbox", "rename", "-u", "alice", "Projects.new", "Projects")

	var now uint32
	waitFor(t, "the re-sync under the new UIDVALIDITY", func() bool {
		f := folder(s.account(t, owner, id).GetSyncStatus())
		now = f.GetUidValidity()
		return now != old && f.GetMessagesDone() == 4 && f.GetMessagesTotal() == 4
	})
	s.synced(t, owner, id)
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages after the re-sync, want 4 (3 kept, 1 new)", n)
	}
	// What the server holds at each UID now, by Message-ID.
	if _, err := c.Select("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	fetched, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(fetched) != 4 {
		t.Fatalf("fetch: %d messages, %v", len(fetched), err)
	}
	want := map[int64]string{}
	for _, m := range fetched {
		want[int64(m.UID)] = strings.Trim(m.Envelope.MessageID, "<>")
	}
	rows, err := s.pool.Query(context.Background(), `SELECT l.uid, m.internet_message_id FROM message_locations l
		JOIN messages m ON m.company_id = l.company_id AND m.id = l.message_id
		WHERE l.folder = 'Projects' AND l.uid_validity = $1`, int64(now))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	for rows.Next() {
		var uid int64
		var mid string
		if err := rows.Scan(&uid, &mid); err != nil {
			t.Fatal(err)
		}
		got[uid] = mid
	}
	if rows.Err() != nil || !maps.Equal(got, want) {
		t.Fatalf("locations under UIDVALIDITY %d: %v, want what the server has: %v (%v)", now, got, want, rows.Err())
	}
	if got[1] != fresh.ID {
		t.Fatalf("UID 1 is %q, want the new message %q: the UIDs were not renumbered as planned", got[1], fresh.ID)
	}
	if n := s.count(t, `SELECT count(*) FROM message_locations WHERE folder = 'Projects' AND uid_validity <> $1`, int64(now)); n != 0 {
		t.Fatalf("%d locations left under the old UIDVALIDITY", n)
	}
}

// S5: an account without TLS to a server that is not loopback would send
// its password in clear; the sync refuses to connect (before any packet:
// 192.0.2.1 is TEST-NET-1) and says why in the account's status.
func TestS5_SyncRefusesPlaintextOffLoopback(t *testing.T) {
	s := startSyncEnv(t)
	a := imapAccount(t, s.dv, alice, "alice")
	a.Imap.Host = "192.0.2.1"
	id := s.connect(t, owner, a, s.pass)
	var st *mailboxv1.SyncStatus
	waitFor(t, "the sync to report the refusal", func() bool {
		st = s.account(t, owner, id).GetSyncStatus()
		return strings.Contains(st.GetLastError(), "loopback")
	})
	if st.GetState() == mailboxv1.SyncState_SYNC_STATE_SYNCED || strings.Contains(st.GetLastError(), s.pass) {
		t.Fatalf("status %v", st)
	}
}

func TestSync_WrongPasswordNeedsReauth(t *testing.T) {
	s := startSyncEnv(t)
	s.appendNow(t, "INBOX", inbound("reauth@customer.test", "After re-authentication"))
	id := s.connect(t, owner, imapAccount(t, s.dv, alice, "alice"), "wrong-"+s.pass)
	var st *mailboxv1.SyncStatus
	waitFor(t, "NEEDS_REAUTH", func() bool {
		st = s.account(t, owner, id).GetSyncStatus()
		return st.GetState() == mailboxv1.SyncState_SYNC_STATE_NEEDS_REAUTH
	})
	if st.GetLastError() == "" || st.GetLastErrorTime() == nil || st.GetNextAttemptTime() != nil {
		t.Fatalf("status: %v", st)
	}
	if strings.Contains(st.GetLastError(), s.pass) {
		t.Fatal("the error carries the secret")
	}
	// No retries (the backoff would be 100 ms): the failure count stays at one.
	time.Sleep(time.Second)
	if n := s.count(t, `SELECT failures FROM account_sync WHERE account_id = $1`, id); n != 1 {
		t.Fatalf("%d attempts with refused credentials, want 1", n)
	}
	if st := s.account(t, owner, id).GetSyncStatus(); st.GetState() != mailboxv1.SyncState_SYNC_STATE_NEEDS_REAUTH {
		t.Fatalf("status after a second: %v", st)
	}
	// A new secret ends it.
	r, err := s.mb.UpdateMailAccount(s.u(t, owner), &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: id}, Secret: s.pass, UpdateMask: mask("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.GetMailAccount().GetSyncStatus().GetState(); got != mailboxv1.SyncState_SYNC_STATE_PENDING {
		t.Fatalf("state right after the new secret: %v", got)
	}
	st = s.synced(t, owner, id)
	if st.GetLastError() != "" {
		t.Fatalf("status after re-authentication: %v", st)
	}
	if _, ok := s.threadOf(t, "reauth@customer.test"); !ok {
		t.Fatal("the message was not synced after re-authentication")
	}
}

// bulk returns n messages of about 5 KB from carol to alice, in threads of
// five (each message but every fifth replies to the one before).
func bulk(n int, prefix string) [][]byte {
	filler := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 85) // ~5 KB
	out := make([][]byte, n)
	for i := range out {
		m := mail{ID: fmt.Sprintf("%s-%d@customer.test", prefix, i), From: customer, To: "Alice <" + alice + ">",
			Subject: fmt.Sprintf("Order %s-%d", prefix, i/5), Body: fmt.Sprintf("Message %d.\r\n%s", i, filler)}
		if i%5 != 0 {
			m.Subject = "Re: " + m.Subject
			m.InReplyTo = fmt.Sprintf("<%s-%d@customer.test>", prefix, i-1)
			m.References = m.InReplyTo
		}
		out[i] = m.raw()
	}
	return out
}

// checkConsistent checks that exactly n distinct messages are stored with a
// location each, and that every thread's aggregates match its messages.
func checkConsistent(t testing.TB, q func(sql string, args ...any) int, n, threads int) {
	t.Helper()
	for _, c := range []struct {
		sql  string
		want int
	}{
		{`SELECT count(*) FROM messages`, n},
		{`SELECT count(DISTINCT internet_message_id) FROM messages`, n},
		{`SELECT count(DISTINCT content_hash) FROM messages`, n},
		{`SELECT count(*) FROM message_locations WHERE message_id IS NOT NULL`, n},
		{`SELECT count(DISTINCT message_id) FROM message_locations`, n},
		{`SELECT count(*) FROM threads`, threads},
		{`SELECT count(*) FROM threads t WHERE message_count <> (SELECT count(*) FROM messages m WHERE m.thread_id = t.id)`, 0},
		{`SELECT coalesce(sum(message_count), 0) FROM threads`, n},
	} {
		if got := q(c.sql); got != c.want {
			t.Errorf("%s = %d, want %d", c.sql, got, c.want)
		}
	}
}

func TestS2_InitialSyncOf5000Messages(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 messages")
	}
	s := startSyncEnv(t)
	const n = 5000
	s.dv.Append(t, "alice", "INBOX", bulk(n, "bulk")...)
	start := time.Now()
	id := s.connectAlice(t, "INBOX")
	var st *mailboxv1.SyncStatus
	waitForUpTo(t, 5*time.Minute, "the initial sync of 5,000 messages", func() bool {
		st = s.account(t, owner, id).GetSyncStatus()
		f := inboxOf(st)
		return st.GetState() == mailboxv1.SyncState_SYNC_STATE_SYNCED && f.GetMessagesDone() == n
	})
	took := time.Since(start)
	t.Logf("initial sync of %d messages: %s (%.0f messages/s, including the claim)", n, took.Round(time.Millisecond), n/took.Seconds())
	if f := inboxOf(st); f.GetMessagesTotal() != n {
		t.Fatalf("status %v", st)
	}
	checkConsistent(t, func(sql string, args ...any) int { return s.count(t, sql, args...) }, n, n/5)
	logBatchTimes(t, s.Logs())
}

// logBatchTimes sums the "batch synced" debug logs: where the time goes.
func logBatchTimes(t testing.TB, logs string) {
	t.Helper()
	sums := map[string]time.Duration{}
	batches := 0
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"msg":"batch synced"`) {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		batches++
		for _, k := range []string{"fetch", "parse", "ingest"} {
			switch v := rec[k].(type) {
			case float64:
				sums[k] += time.Duration(v * float64(time.Second))
			case string:
				d, _ := time.ParseDuration(v)
				sums[k] += d
			}
		}
	}
	t.Logf("%d batches: IMAP fetch %s, MIME parse %s, ingest %s", batches,
		sums["fetch"].Round(time.Millisecond), sums["parse"].Round(time.Millisecond), sums["ingest"].Round(time.Millisecond))
}

func TestS2_KillDuringInitialSyncLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 messages and a process")
	}
	killDuringSync(t, 5000, 0)
}

// The same during new mail: 3,000 messages arrive in an INBOX already
// synced, in batches that each move UIDNEXT past them. Whenever the kill
// comes, UIDNEXT is not past a message that is not stored (the next sync
// searches from it: a message behind it would be lost for good).
func TestS2_KillDuringNewMailLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 messages and a process")
	}
	killDuringSync(t, 10, 3000)
}

// killDuringSync syncs an INBOX of initial messages with a real mailbox
// process, delivers later messages at once when it is synced (none: the kill
// comes during the initial sync), kills the process with SIGKILL while it stores
// them, restarts it and checks that every message is stored exactly once.
func killDuringSync(t *testing.T, initial, later int) {
	bin := servicetest.Build(t, "github.com/sightline/sightline/services/mailbox/cmd/mailbox")
	pass := randomPassword()
	dv := dovecottest.Start(t, dovecottest.WithUser("alice", pass))
	n := initial + later
	dv.Append(t, "alice", "INBOX", bulk(initial, "kill")...)

	// An in-process mailbox without sync workers serves the API on the same
	// database; the process under test does the syncing.
	url := pgtest.New(t, migrated)
	keys := newSecretKeys(t)
	api := servicetest.Start(t, mailbox.ServiceWithVisibility(visibilityclient.NewTable()),
		servicetest.Options{DatabaseURL: url, Args: []string{"--secret-keys", keys, "--sync-workers", "0"}})
	pool := openPool(t, url, 2)
	count := func(sql string, args ...any) int { t.Helper(); return scalar(t, pool, sql, args...) }
	mb := mailboxv1.NewMailboxServiceClient(api.Conn)
	me := api.User(t, company, owner)

	// The process starts with nothing to sync and finds the account at its
	// next poll, so that the sync begins after the wait below has: started
	// with the account there, it could sync much of the INBOX before
	// StartProcess returns.
	start := time.Now()
	p := servicetest.StartProcess(t, bin, servicetest.Options{DatabaseURL: url, AuthKeys: api.AuthKeys, Args: []string{
		"--secret-keys", keys, "--log-level", "info", "--sync-poll-interval", "100ms", "--sync-lease-ttl", "2s",
		"--sync-retry-min", "100ms", "--sync-retry-max", "500ms", "--sync-batch-size", "50"}})
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("SYNC_TEST_LOGS") != "" {
			t.Logf("mailbox process logs:\n%s", p.Logs())
		}
	})
	r, err := mb.CreateMailAccount(me, &mailboxv1.CreateMailAccountRequest{MailAccount: imapAccount(t, dv, alice, "alice", "INBOX"), Secret: pass})
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetMailAccount().GetId()
	status := func() *mailboxv1.SyncStatus {
		a, err := mb.GetMailAccount(me, &mailboxv1.GetMailAccountRequest{MailAccountId: id})
		if err != nil {
			t.Fatal(err)
		}
		return a.GetMailAccount().GetSyncStatus()
	}
	if later > 0 {
		waitForUpTo(t, 2*time.Minute, "the initial sync", func() bool {
			st := status()
			return st.GetState() == mailboxv1.SyncState_SYNC_STATE_SYNCED && inboxOf(st).GetMessagesDone() == int64(initial)
		})
		// All at once, as a burst of new mail: appended one by one, the
		// messages could be synced as fast as they arrive and the kill
		// would find nothing left to interrupt.
		dv.Deliver(t, "alice", "INBOX", bulk(later, "later")...)
	}
	// Kill -9 in the middle of the sync.
	threshold := initial / 10 // early in the initial sync
	if later > 0 {
		threshold = initial + later/10 // early in the new mail
	}
	// Polled tightly: the kill must come while most messages are still to
	// be stored, however fast the machine syncs.
	for deadline := time.Now().Add(2 * time.Minute); count(`SELECT count(*) FROM messages`) < threshold; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d messages to be stored", threshold)
		}
	}
	p.Kill(t)
	// A COMMIT the process sent just before the SIGKILL may still be
	// applied after Kill returns: what the kill left is read in one
	// snapshot, so that every check below sees the same state.
	func() {
		snap, err := pool.BeginTx(context.Background(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = snap.Rollback(context.Background()) }()
		inSnap := func(sql string, args ...any) int { t.Helper(); return scalar(t, snap, sql, args...) }
		atKill := inSnap(`SELECT count(*) FROM messages`)
		t.Logf("killed with %d of %d messages stored, %s after the start", atKill, n, time.Since(start).Round(time.Millisecond))
		if atKill >= n {
			t.Fatalf("the sync ended before the kill (%d messages)", atKill)
		}
		checkConsistentPartial := inSnap(`SELECT count(*) FROM threads t WHERE message_count <> (SELECT count(*) FROM messages m WHERE m.thread_id = t.id)`)
		if checkConsistentPartial != 0 {
			t.Fatalf("%d threads inconsistent after the kill", checkConsistentPartial)
		}
		if loc := inSnap(`SELECT count(*) FROM message_locations`); loc != atKill {
			t.Fatalf("after the kill: %d locations for %d messages (a message and its location commit together)", loc, atKill)
		}
		// New mail: the UIDs are 1..n in the order appended, and UIDNEXT may not
		// be past the first one without a location. (The initial window sets
		// UIDNEXT when it starts and resumes by the locations it has.)
		if later > 0 {
			firstMissing := inSnap(`SELECT min(u) FROM generate_series(1, $1::int) u
				WHERE NOT EXISTS (SELECT 1 FROM message_locations WHERE uid = u)`, n)
			if next := inSnap(`SELECT uid_next FROM sync_folders WHERE name = 'INBOX'`); next > firstMissing {
				t.Fatalf("after the kill UIDNEXT is %d, past UID %d, which is not stored", next, firstMissing)
			}
		}
	}()

	// Restart: the dead process's lease expires and the new one resumes.
	p.Restart(t)
	var st *mailboxv1.SyncStatus
	waitForUpTo(t, 5*time.Minute, "the sync to finish after the restart", func() bool {
		st = status()
		return st.GetState() == mailboxv1.SyncState_SYNC_STATE_SYNCED && inboxOf(st).GetMessagesDone() == int64(n) &&
			count(`SELECT count(*) FROM messages`) == n
	})
	t.Logf("synced %s after the start (with the kill and the lease expiry)", time.Since(start).Round(time.Millisecond))
	if f := inboxOf(st); f.GetMessagesTotal() != int64(n) {
		t.Fatalf("status %v", st)
	}
	checkConsistent(t, count, n, initial/5+later/5)
}

func TestSync_TwoReplicasShareTwentyAccountsExactlyOnce(t *testing.T) {
	const accounts, per = 20, 10
	dv := dovecottest.Start(t)
	pass := randomPassword()
	for i := range accounts {
		dv.AddUser(t, fmt.Sprintf("u%d", i), pass)
	}
	url := pgtest.New(t, migrated)
	keys := newSecretKeys(t)
	authKeys := servicetest.NewKeySpec(t)
	replica := func(extra ...string) *servicetest.Instance {
		// A long lease (the last --sync-lease-ttl wins): no replica may lose
		// one here, and a renewal that a busy machine runs late must not lose
		// it. The hand-over below does not wait for an expiry: A releases its
		// leases when it stops (and were a release to fail, the lease would
		// still expire well within the wait).
		args := append(append([]string{"--secret-keys", keys}, fastSync...), "--sync-lease-ttl", "30s")
		return servicetest.Start(t, mailbox.ServiceWithVisibility(visibilityclient.NewTable()),
			servicetest.Options{DatabaseURL: url, AuthKeys: authKeys, Args: append(args, extra...)})
	}
	// A holds at most 12 accounts, so B must take at least 8 of the 20.
	a := replica("--sync-max-accounts", "12")
	b := replica()
	pool := openPool(t, url, 2)
	count := func(sql string, args ...any) int { t.Helper(); return scalar(t, pool, sql, args...) }
	mb := mailboxv1.NewMailboxServiceClient(b.Conn)
	for i := range accounts {
		user := fmt.Sprintf("u%d", i)
		dv.Append(t, user, "INBOX", bulk(per, user)...)
		email := user + "@acme.test"
		if _, err := mb.CreateMailAccount(b.User(t, company, int64(100+i)), &mailboxv1.CreateMailAccountRequest{
			MailAccount: imapAccount(t, dv, email, user, "INBOX"), Secret: pass}); err != nil {
			t.Fatal(err)
		}
	}
	allSynced := func(total int) func() bool {
		return func() bool {
			return count(`SELECT count(*) FROM account_sync WHERE state = 3 AND last_success_time IS NOT NULL`) == accounts &&
				count(`SELECT count(*) FROM messages`) == total
		}
	}
	waitForUpTo(t, 2*time.Minute, "every account to be synced", allSynced(accounts*per))
	rows, err := pool.Query(context.Background(), `SELECT coalesce(lease_owner, ''), count(*) FROM account_sync GROUP BY 1 ORDER BY 2`)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int{}
	for rows.Next() {
		var o string
		var c int
		if err := rows.Scan(&o, &c); err != nil {
			t.Fatal(err)
		}
		held[o] = c
	}
	t.Logf("leases: %v", held)
	if held[""] != 0 || len(held) != 2 {
		t.Fatalf("leases %v: want every account held, by both replicas", held)
	}
	checkOnce := func(total int) {
		t.Helper()
		for _, c := range []struct {
			sql  string
			want int
		}{
			{`SELECT count(*) FROM messages`, total},
			{`SELECT count(DISTINCT (owner_id, internet_message_id)) FROM messages`, total},
			{`SELECT count(*) FROM message_locations WHERE message_id IS NOT NULL`, total},
			{`SELECT count(*) FROM threads t WHERE message_count <> (SELECT count(*) FROM messages m WHERE m.thread_id = t.id)`, 0},
		} {
			if got := count(c.sql); got != c.want {
				t.Fatalf("%s = %d, want %d", c.sql, got, c.want)
			}
		}
	}
	checkOnce(accounts * per)
	for _, in := range []*servicetest.Instance{a, b} {
		if strings.Contains(in.Logs(), "lease lost") {
			t.Fatalf("a replica lost a lease:\n%s", in.Logs())
		}
	}

	// A stops: B takes its accounts over and syncs their new mail.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range accounts {
		user := fmt.Sprintf("u%d", i)
		dv.Append(t, user, "INBOX", mail{ID: user + "-late@customer.test", From: customer, To: alice, Subject: "Late " + user}.raw())
	}
	waitForUpTo(t, 2*time.Minute, "B to sync every account's new mail", allSynced(accounts*(per+1)))
	if n := count(`SELECT count(DISTINCT lease_owner) FROM account_sync`); n != 1 {
		t.Fatalf("%d lease owners after A stopped, want 1", n)
	}
	checkOnce(accounts * (per + 1))
}

// at reports whether alice's mailbox at the provider holds messageID.
func (s *syncEnv) at(t testing.TB, mailbox, messageID string) bool {
	t.Helper()
	out := s.dv.Doveadm(t, "search", "-u", "alice", "mailbox", mailbox, "HEADER", "Message-ID", messageID)
	return strings.TrimSpace(out) != ""
}

// passes waits for n more complete sync passes of account id.
func (s *syncEnv) passes(t testing.TB, id int64, n int) {
	t.Helper()
	for range n {
		since := time.Now()
		waitFor(t, "a sync pass", func() bool {
			return s.account(t, owner, id).GetSyncStatus().GetLastSuccessTime().AsTime().After(since)
		})
	}
}

// M6: archive and delete are mirrored to the provider only with the user's
// two-way setting on; without it the provider's copies stay where they are
// and the deleted message does not come back with later passes.
func TestM6_WithoutTwoWayArchiveAndDeleteStayLocal(t *testing.T) {
	s := startSyncEnv(t)
	me := s.u(t, owner)
	keep := inbound("keep1@customer.test", "Archive me here only")
	drop := inbound("drop1@customer.test", "Delete me here only")
	s.appendNow(t, "INBOX", keep, drop)
	id := s.connectAlice(t, "INBOX", "Archive", "Trash")
	s.synced(t, owner, id)
	tKeep, _ := s.threadOf(t, keep.ID)
	tDrop, _ := s.threadOf(t, drop.ID)
	if _, err := s.mb.UpdateThread(me, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: tKeep, Archived: true},
		UpdateMask: mask("archived")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.mb.DeleteThread(me, &mailboxv1.DeleteThreadRequest{ThreadId: tDrop}); err != nil {
		t.Fatal(err)
	}
	if n := s.count(t, `SELECT count(*) FROM provider_actions`); n != 0 {
		t.Fatalf("%d provider actions queued with two-way sync off", n)
	}
	s.passes(t, id, 2)
	for _, m := range []mail{keep, drop} {
		if !s.at(t, "INBOX", m.ID) || s.at(t, "Archive", m.ID) || s.at(t, "Trash", m.ID) {
			t.Fatalf("%s moved at the provider with two-way sync off", m.ID)
		}
	}
	if _, ok := s.threadOf(t, drop.ID); ok {
		t.Fatal("the deleted message came back")
	}
	if th := s.thread(t, owner, tKeep); !th.GetArchived() {
		t.Fatalf("the archived thread: %v", th)
	}
}

// M6: a thread deleted while a folder's initial sync is unfinished does not
// come back when that sync resumes. The initial sync fetches the UIDs of
// its window that have no location; a deleted message's location stays,
// without a message. (The locations went with the message, and the resumed
// sync fetched the deleted mail again.)
func TestM6_DeletedDuringInitialSyncStaysDeleted(t *testing.T) {
	s := startSyncEnv(t)
	me := s.u(t, owner)
	keep := inbound("keep2@customer.test", "Keep me")
	drop := inbound("drop2@customer.test", "Delete me while the sync is unfinished")
	s.appendNow(t, "INBOX", keep, drop)
	id := s.connectAlice(t, "INBOX")
	s.synced(t, owner, id)
	tDrop, _ := s.threadOf(t, drop.ID)
	if _, err := s.mb.DeleteThread(me, &mailboxv1.DeleteThreadRequest{ThreadId: tDrop}); err != nil {
		t.Fatal(err)
	}
	// The folder's initial sync is unfinished again (as when a crash or a
	// lost lease stopped it): the next pass resumes it over the window.
	if n := s.count(t, `WITH u AS (UPDATE sync_folders SET initial_done = false WHERE account_id = $1 AND name = 'INBOX' RETURNING 1)
		SELECT count(*) FROM u`, id); n != 1 {
		t.Fatalf("%d folders reset, want 1", n)
	}
	s.passes(t, id, 2)
	if n := s.count(t, `SELECT count(*) FROM sync_folders WHERE account_id = $1 AND NOT initial_done`, id); n != 0 {
		t.Fatal("the initial sync did not run again")
	}
	if _, ok := s.threadOf(t, drop.ID); ok {
		t.Fatal("the deleted message came back")
	}
	if _, ok := s.threadOf(t, keep.ID); !ok {
		t.Fatal("the kept message is gone")
	}
}

// M6 two-way: a provider that will not create the archive (here Dovecot
// with no right to create mailboxes, as on servers whose mailboxes must sit
// under "INBOX.") fails the archive's move, which the status shows; the
// account's sync goes on. (The refusal used to fail every pass before its
// folders were looked at: no new mail, for good.)
func TestM6_TwoWayArchiveRefusedByProviderKeepsSyncing(t *testing.T) {
	s := startSyncEnvWith(t, []dovecottest.Option{dovecottest.WithConfig(`mail_plugins = $mail_plugins acl
plugin {
  acl = vfile:{dir}/global-acl
  acl_globals_only = yes
}
namespace inbox {
  mailbox Archive {
    auto = no
  }
}`)})
	// Every right but creating and deleting mailboxes and administering ACLs.
	if err := os.WriteFile(filepath.Join(s.dv.Dir, "global-acl"), []byte("* owner lrwstipe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	me := s.twoWayOn(t)
	keep := inbound("keep3@customer.test", "Archive me, if the provider lets you")
	s.appendNow(t, "INBOX", keep)
	id := s.connectAlice(t, "INBOX")
	s.synced(t, owner, id)
	tKeep, _ := s.threadOf(t, keep.ID)
	st := s.archiveRefused(t, me, id, tKeep)
	if !strings.Contains(st.GetLastProviderActionError(), "NOPERM") || st.GetLastProviderActionErrorTime() == nil {
		t.Fatalf("status %v: want the provider's refusal", st)
	}
	later := inbound("later3@customer.test", "New mail after the refusal")
	s.appendNow(t, "INBOX", later)
	waitFor(t, "new mail after the refused move", func() bool { _, ok := s.threadOf(t, later.ID); return ok })
	if !s.at(t, "INBOX", keep.ID) {
		t.Fatal("the message left INBOX at the provider")
	}
	if th := s.thread(t, owner, tKeep); !th.GetArchived() {
		t.Fatalf("the thread is no longer archived here: %v", th)
	}
}

// M6 two-way on a server without MOVE and UIDPLUS: moving one message
// would take COPY, STORE \Deleted and a plain EXPUNGE, which would also
// expunge other mail the user marked deleted but kept. The move is refused
// with that reason in the status, and the other mail stays.
func TestM6_TwoWayWithoutMoveOrUIDPlusExpungesNothingElse(t *testing.T) {
	s := startSyncEnvWith(t, []dovecottest.Option{dovecottest.WithConfig(`imap_capability = IMAP4rev1 SASL-IR LITERAL+ ` +
		`ID ENABLE IDLE NAMESPACE SPECIAL-USE CREATE-SPECIAL-USE CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN SORT`)})
	me := s.twoWayOn(t)
	keep := inbound("keep4@customer.test", "Archive me")
	kept := inbound("kept4@customer.test", "Marked deleted at the provider, not expunged")
	s.appendNow(t, "INBOX", keep)
	appendAt(t, s.dv, "alice", s.pass, "INBOX", time.Now().Add(-time.Hour), []imap.Flag{imap.FlagDeleted}, kept.raw())
	id := s.connectAlice(t, "INBOX")
	s.synced(t, owner, id)
	tKeep, _ := s.threadOf(t, keep.ID)
	st := s.archiveRefused(t, me, id, tKeep)
	if !strings.Contains(st.GetLastProviderActionError(), "neither MOVE nor UIDPLUS") {
		t.Fatalf("status %v: want the missing MOVE named", st)
	}
	if !s.at(t, "INBOX", kept.ID) || !s.at(t, "INBOX", keep.ID) {
		t.Fatal("mail left INBOX at the provider")
	}
}

// archiveRefused archives a thread and waits until the account's status
// shows the provider's refusal of the move; it returns that status.
func (s *syncEnv) archiveRefused(t *testing.T, me context.Context, id, thread int64) *mailboxv1.SyncStatus {
	t.Helper()
	if _, err := s.mb.UpdateThread(me, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: thread, Archived: true},
		UpdateMask: mask("archived")}); err != nil {
		t.Fatal(err)
	}
	var st *mailboxv1.SyncStatus
	waitFor(t, "the refused move in the status", func() bool {
		st = s.account(t, owner, id).GetSyncStatus()
		return st.GetLastProviderActionError() != ""
	})
	return st
}

// twoWayOn turns the owner's two-way setting on and returns the owner's context.
func (s *syncEnv) twoWayOn(t testing.TB) context.Context {
	t.Helper()
	me := s.u(t, owner)
	if _, err := s.mb.UpdateMailSettings(me, &mailboxv1.UpdateMailSettingsRequest{
		Settings: &mailboxv1.MailSettings{TwoWaySync: true}, UpdateMask: mask("two_way_sync")}); err != nil {
		t.Fatal(err)
	}
	return me
}

func TestM6_TwoWayArchiveAndDeleteMoveAtProvider(t *testing.T) {
	s := startSyncEnv(t)
	me := s.twoWayOn(t)
	keep := inbound("keep@customer.test", "Archive me")
	drop := inbound("drop@customer.test", "Delete me")
	other := inbound("other@customer.test", "Leave me")
	s.appendNow(t, "INBOX", keep, drop, other)
	// Archive and Trash are synced too: the moved copies must not come back as new mail.
	id := s.connectAlice(t, "INBOX", "Sent", "Archive", "Trash")
	s.synced(t, owner, id)
	tKeep, _ := s.threadOf(t, keep.ID)
	tDrop, _ := s.threadOf(t, drop.ID)

	at := func(mailbox, messageID string) bool { return s.at(t, mailbox, messageID) }
	passes := func() { s.passes(t, id, 2) }

	if _, err := s.mb.UpdateThread(me, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: tKeep, Archived: true},
		UpdateMask: mask("archived")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the archived message to move to Archive at the provider", func() bool {
		return at("Archive", keep.ID) && !at("INBOX", keep.ID)
	})
	passes()
	th := s.thread(t, owner, tKeep)
	if !th.GetArchived() || th.GetMessageCount() != 1 {
		t.Fatalf("the archived thread after the move was synced: %v", th)
	}
	if slices.Contains(folderIDs(t, s.mb, me, inbox), tKeep) || !slices.Contains(folderIDs(t, s.mb, me, archive), tKeep) {
		t.Fatal("the archived thread should be in the archive only")
	}
	if n := s.count(t, `SELECT count(*) FROM message_locations l JOIN messages m ON m.id = l.message_id
		WHERE m.internet_message_id = $1 AND l.folder = 'Archive'`, keep.ID); n != 1 {
		t.Fatalf("%d locations of the archived message in Archive, want 1", n)
	}

	if _, err := s.mb.DeleteThread(me, &mailboxv1.DeleteThreadRequest{ThreadId: tDrop}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted message to move to Trash at the provider", func() bool {
		return at("Trash", drop.ID) && !at("INBOX", drop.ID)
	})
	passes()
	if _, ok := s.threadOf(t, drop.ID); ok {
		t.Fatal("the deleted message came back")
	}
	_, err := s.mb.GetThread(me, &mailboxv1.GetThreadRequest{ThreadId: tDrop})
	wantCode(t, err, codes.NotFound, "")
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 2 {
		t.Fatalf("%d messages, want 2 (archived and untouched)", n)
	}
	if n := s.count(t, `SELECT count(*) FROM provider_actions`); n != 0 {
		t.Fatalf("%d provider actions left", n)
	}
	if !at("INBOX", other.ID) {
		t.Fatal("the untouched message moved")
	}
}

// M6 two-way, unarchive: what the archive took goes back to INBOX at the
// provider and nothing is duplicated here; a thread archived and unarchived
// before the worker got to either ends where it began; unarchiving a thread
// that was never archived moves nothing (here, a message the user filed in
// the provider's archive themselves).
func TestM6_TwoWayUnarchiveMovesBackToInbox(t *testing.T) {
	s := startSyncEnv(t)
	me := s.twoWayOn(t)
	back := inbound("back@customer.test", "Archive me, then bring me back")
	quick := inbound("quick@customer.test", "Archive and unarchive me at once")
	filed := inbound("filed@customer.test", "Filed in the archive at the provider")
	s.appendNow(t, "INBOX", back, quick)
	s.appendNow(t, "Archive", filed)
	id := s.connectAlice(t, "INBOX", "Sent", "Archive", "Trash")
	s.synced(t, owner, id)
	tBack, _ := s.threadOf(t, back.ID)
	tQuick, _ := s.threadOf(t, quick.ID)
	tFiled, _ := s.threadOf(t, filed.ID)
	at := func(mailbox, messageID string) bool { return s.at(t, mailbox, messageID) }
	archived := func(thread int64, v bool) {
		t.Helper()
		if _, err := s.mb.UpdateThread(me, &mailboxv1.UpdateThreadRequest{Thread: &mailboxv1.Thread{Id: thread, Archived: v},
			UpdateMask: mask("archived")}); err != nil {
			t.Fatal(err)
		}
	}

	archived(tBack, true)
	waitFor(t, "the archived message to move to Archive at the provider", func() bool {
		return at("Archive", back.ID) && !at("INBOX", back.ID)
	})
	archived(tBack, false)
	waitFor(t, "the unarchived message to move back to INBOX at the provider", func() bool {
		return at("INBOX", back.ID) && !at("Archive", back.ID)
	})
	archived(tQuick, true)
	archived(tQuick, false)
	archived(tFiled, false)
	waitFor(t, "every provider action done", func() bool { return s.count(t, `SELECT count(*) FROM provider_actions`) == 0 })
	s.passes(t, id, 2)

	if !at("INBOX", quick.ID) || at("Archive", quick.ID) {
		t.Fatal("the thread archived and unarchived at once is not back in INBOX at the provider")
	}
	if !at("Archive", filed.ID) || at("INBOX", filed.ID) {
		t.Fatal("unarchiving a thread that was never archived moved its message out of the provider's archive")
	}
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
	for _, m := range []mail{back, quick} {
		if n := s.count(t, `SELECT count(*) FROM message_locations l JOIN messages m ON m.id = l.message_id
			WHERE m.internet_message_id = $1 AND l.folder = 'INBOX'`, m.ID); n != 1 {
			t.Fatalf("%s: %d locations in INBOX, want 1", m.ID, n)
		}
		if n := s.count(t, `SELECT count(*) FROM message_locations l JOIN messages m ON m.id = l.message_id
			WHERE m.internet_message_id = $1`, m.ID); n != 1 {
			t.Fatalf("%s: %d locations, want 1", m.ID, n)
		}
	}
	if th := s.thread(t, owner, tBack); th.GetArchived() || th.GetMessageCount() != 1 {
		t.Fatalf("the unarchived thread: %v", th)
	}
	if !slices.Contains(folderIDs(t, s.mb, me, inbox), tBack) || slices.Contains(folderIDs(t, s.mb, me, archive), tBack) {
		t.Fatal("the unarchived thread should be in the inbox only")
	}
	if st := s.account(t, owner, id).GetSyncStatus(); st.GetPendingProviderActions() != 0 || st.GetLastProviderActionError() != "" {
		t.Fatalf("status %v: want no two-way move pending or failed", st)
	}
}

func TestS5_SyncLogsContainNoSecret(t *testing.T) {
	s := startSyncEnv(t)
	// A figure no log line can hold by chance (a duration or a port could
	// hold "4711"): random, 24 hex digits.
	figure := strings.TrimPrefix(randomPassword(), "pw-")
	body := "The quarterly numbers are confidential: " + figure + "."
	s.appendNow(t, "INBOX", mail{ID: "s5@customer.test", From: customer, To: alice, Subject: "Numbers", Body: body})
	// A wrong password first (its error is logged), then the right one.
	wrong := randomPassword()
	id := s.connect(t, owner, imapAccount(t, s.dv, alice, "alice"), wrong)
	waitFor(t, "NEEDS_REAUTH", func() bool {
		return s.account(t, owner, id).GetSyncStatus().GetState() == mailboxv1.SyncState_SYNC_STATE_NEEDS_REAUTH
	})
	if _, err := s.mb.UpdateMailAccount(s.u(t, owner), &mailboxv1.UpdateMailAccountRequest{
		MailAccount: &mailboxv1.MailAccount{Id: id}, Secret: s.pass, UpdateMask: mask("secret")}); err != nil {
		t.Fatal(err)
	}
	s.synced(t, owner, id)
	s.dv.Append(t, "alice", "INBOX", inbound("s5-late@customer.test", "Later").raw())
	waitFor(t, "new mail", func() bool { _, ok := s.threadOf(t, "s5-late@customer.test"); return ok })
	logs := s.Logs()
	for _, want := range []string{"mail account leased", "initial sync of a folder", "mail account synced", `"account_id":`, `"company_id":`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the logs lack %q", want)
		}
	}
	for _, secret := range []string{s.pass, wrong, body, figure} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the logs carry %q", secret)
		}
	}
}

func TestS1_OnlyKnownContacts(t *testing.T) {
	s := startSyncEnv(t)
	s.person(t, 100, 0, carol)
	known := inbound("known@customer.test", "From a contact")
	stranger := mail{ID: "stranger@else.test", From: "Stranger <someone@else.test>", To: alice, Subject: "From a stranger"}
	s.appendNow(t, "INBOX", known, stranger)
	a := imapAccount(t, s.dv, alice, "alice", "INBOX")
	a.SyncOptions.OnlyKnownContacts = true
	id := s.connect(t, owner, a, s.pass)
	st := s.synced(t, owner, id)
	if f := inboxOf(st); f.GetMessagesDone() != 2 || f.GetMessagesTotal() != 2 {
		t.Fatalf("status %v: both messages were looked at", st)
	}
	if _, ok := s.threadOf(t, known.ID); !ok {
		t.Fatal("the contact's message was not synced")
	}
	if _, ok := s.threadOf(t, stranger.ID); ok {
		t.Fatal("the stranger's message was synced")
	}
	// Later mail goes through the same filter.
	later := mail{ID: "stranger2@else.test", From: "Stranger <someone@else.test>", To: alice, Subject: "Again"}
	laterKnown := inbound("known2@customer.test", "Again from a contact")
	s.dv.Append(t, "alice", "INBOX", later.raw(), laterKnown.raw())
	waitFor(t, "the contact's new message", func() bool { _, ok := s.threadOf(t, laterKnown.ID); return ok })
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 2 {
		t.Fatalf("%d messages, want the contact's 2", n)
	}

	// The filter turned off: what it left out is synced now, once.
	a.Id, a.SyncOptions.OnlyKnownContacts = id, false
	if _, err := s.mb.UpdateMailAccount(s.u(t, owner), &mailboxv1.UpdateMailAccountRequest{MailAccount: a,
		UpdateMask: mask("sync_options")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the strangers' messages after the filter was turned off", func() bool {
		return s.count(t, `SELECT count(*) FROM messages`) == 4
	})
	s.passes(t, id, 1)
	if n := s.count(t, `SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages, want 4", n)
	}
	if f := inboxOf(s.account(t, owner, id).GetSyncStatus()); f.GetMessagesDone() != 4 || f.GetMessagesTotal() != 4 {
		t.Fatalf("INBOX status %v, want 4 of 4", f)
	}
}

// S3: a Smart Bcc copy of a message the IMAP sync stored (and the other way
// round for the next one) is stored once, with the Smart Bcc flag merged.
func TestS3_SmartBccCopyOfSyncedMessageStoredOnce(t *testing.T) {
	s := startSyncEnv(t, "--smtp-addr", "127.0.0.1:0", "--smartbcc-domain", "bcc.example.test")
	r, err := s.mb.GetSmartBccAddress(s.u(t, owner), &mailboxv1.GetSmartBccAddressRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bcc := &bccEnv{env: s.env, bcc: r.GetEmailAddress()}

	synced := mail{ID: "offer-1@acme.test", From: "Alice <" + alice + ">", To: customer, Subject: "Offer"}
	s.appendNow(t, "INBOX", synced)
	s.connectAlice(t, "INBOX")
	waitFor(t, "the synced copy", func() bool {
		return s.count(t, `SELECT count(*) FROM messages WHERE internet_message_id = 'offer-1@acme.test'`) == 1
	})
	if step, err := bcc.send(t, alice, []string{bcc.bcc}, synced.raw()); err != nil {
		t.Fatalf("smart bcc of the synced message: %s %v", step, err)
	}

	bccFirst := mail{ID: "offer-2@acme.test", From: "Alice <" + alice + ">", To: customer, Subject: "Offer 2"}
	if step, err := bcc.send(t, alice, []string{bcc.bcc}, bccFirst.raw()); err != nil {
		t.Fatalf("smart bcc first: %s %v", step, err)
	}
	s.appendNow(t, "INBOX", bccFirst)
	waitFor(t, "the second message's INBOX location", func() bool {
		return s.count(t, `SELECT count(*) FROM message_locations l JOIN messages m ON m.id = l.message_id
			WHERE m.internet_message_id = 'offer-2@acme.test'`) == 1
	})
	for _, id := range []string{"offer-1@acme.test", "offer-2@acme.test"} {
		if n := s.count(t, `SELECT count(*) FROM messages WHERE internet_message_id = $1 AND smart_bcc`, id); n != 1 {
			t.Errorf("%s: %d messages with the Smart Bcc flag, want exactly one stored copy", id, n)
		}
		if n := s.count(t, `SELECT count(*) FROM messages WHERE internet_message_id = $1`, id); n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
}
