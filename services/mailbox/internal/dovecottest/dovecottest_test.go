package dovecottest_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sightline/sightline/services/mailbox/internal/dovecottest"
)

func msg(i int) []byte {
	return fmt.Appendf(nil, "From: Alice <alice@example.com>\r\nTo: test@example.com\r\nSubject: test %d\r\n"+
		"Message-ID: <dovecottest-%d@example.com>\r\nDate: Mon, 01 Jan 2024 00:00:0%d +0000\r\n\r\nbody %d\r\n", i, i, i, i)
}

func TestServer(t *testing.T) {
	s := dovecottest.Start(t, dovecottest.WithUser("alice", "secret"))
	s.AddUser(t, "test", "pw") // added while running: no restart needed

	c := s.Login(t, "test", "pw")
	caps := c.Caps()
	for _, want := range []imap.Cap{imap.CapCondStore, imap.CapIdle, imap.CapMove, imap.CapUIDPlus} {
		if !caps.Has(want) {
			t.Errorf("capability %s missing; have %v", want, caps)
		}
	}

	// Special-use mailboxes exist.
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	for _, want := range []string{"INBOX", "Sent", "Trash", "Archive"} {
		if !slices.Contains(names, want) {
			t.Errorf("mailbox %s missing: %v", want, names)
		}
	}

	uids := s.Append(t, "test", "INBOX", msg(1), msg(2), msg(3))
	if len(uids) != 3 || uids[0] == 0 {
		t.Fatalf("APPEND UIDs = %v", uids)
	}

	sel, err := c.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 3 || sel.HighestModSeq == 0 {
		t.Fatalf("SELECT: %d messages, HIGHESTMODSEQ %d", sel.NumMessages, sel.HighestModSeq)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, ModSeq: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("fetched %d messages", len(msgs))
	}
	for i, m := range msgs {
		if m.UID != uids[i] {
			t.Errorf("message %d: UID %d, want %d", i, m.UID, uids[i])
		}
		if body := m.FindBodySection(&imap.FetchItemBodySection{}); string(body) != string(msg(i+1)) {
			t.Errorf("message %d body = %q", i, body)
		}
	}

	// A server-side flag change shows through CONDSTORE CHANGEDSINCE.
	s.Doveadm(t, "flags", "add", "-u", "test", `\Flagged`, "mailbox", "INBOX", "uid", fmt.Sprint(uids[1]))
	changed, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, ModSeq: true,
		ChangedSince: sel.HighestModSeq}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].UID != uids[1] || !slices.Contains(changed[0].Flags, imap.FlagFlagged) ||
		changed[0].ModSeq <= sel.HighestModSeq {
		t.Fatalf("CHANGEDSINCE %d = %+v", sel.HighestModSeq, changed)
	}

	status := s.Doveadm(t, "mailbox", "status", "-u", "test", "messages", "INBOX")
	if !strings.Contains(status, "messages=3") {
		t.Errorf("doveadm mailbox status = %q", status)
	}
	// The other user is separate.
	if st := s.Doveadm(t, "mailbox", "status", "-u", "alice", "messages", "INBOX"); !strings.Contains(st, "messages=0") {
		t.Errorf("alice: %q", st)
	}
}
