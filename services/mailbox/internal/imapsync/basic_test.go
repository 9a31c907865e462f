package imapsync_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/sightline/sightline/pkg/pg"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// basicServer is go-imap's in-memory server advertising plain IMAP4rev1:
// no CONDSTORE, IDLE, ESEARCH, SPECIAL-USE, MOVE nor UIDPLUS.
func basicServer(t *testing.T, user, pass string) string {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(user, pass)
	for _, name := range []string{"INBOX", "Sent"} {
		if err := u.Create(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// Without CONDSTORE and IDLE: polling finds new mail, the bounded rescan
// finds \Seen changes, and expunges are still deleted here.
func TestSync_WithoutCondstoreNorIdlePollsAndRescans(t *testing.T) {
	const pass = "basic-pass"
	addr := basicServer(t, "alice", pass)
	pool, err := pg.Open(context.Background(), pgtest.New(t, migrated), "mailbox", 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &fixture{st: store.New(pool), pool: pool, pass: pass}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	a, err := f.st.CreateAccount(context.Background(), 1, store.Account{UserID: 1, Email: "alice@acme.test",
		IMAP: store.ServerSettings{Host: host, Port: int32(p), Security: 3}, SMTP: store.ServerSettings{Host: host, Port: 25, Security: 3},
		Username: "alice", AuthKind: 1, SyncWindow: 1, Folders: []string{"INBOX", "Sent"}}, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	f.id = a.ID

	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Login("alice", pass).Wait(); err != nil {
		t.Fatal(err)
	}
	add := func(mailbox string, i int) {
		raw := fmt.Appendf(nil, "Message-ID: <b%d@customer.test>\r\nFrom: carol@customer.test\r\nTo: alice@acme.test\r\n"+
			"Subject: Basic %d\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nHello %d.\r\n", i, i, i)
		cmd := c.Append(mailbox, int64(len(raw)), &imap.AppendOptions{Time: time.Now().Add(-time.Hour)})
		if _, err := cmd.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	add("INBOX", 1)
	add("INBOX", 2)
	add("Sent", 3)
	run(t, f, nil, nil, "")
	waitFor(t, "the initial sync", func() bool { return f.count(t, `SELECT count(*) FROM messages`) == 3 })

	add("INBOX", 4) // found by polling
	waitFor(t, "new mail by polling", func() bool { return f.count(t, `SELECT count(*) FROM messages`) == 4 })

	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// \Seen on the first message: found by the rescan.
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the \\Seen change", func() bool {
		return f.count(t, `SELECT count(*) FROM messages WHERE internet_message_id = 'b1@customer.test' AND seen`) == 1
	})
	// Expunge the second message.
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the expunge", func() bool {
		return f.count(t, `SELECT count(*) FROM messages WHERE internet_message_id = 'b2@customer.test'`) == 0
	})
	if n := f.count(t, `SELECT count(*) FROM messages`); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
	if n := f.count(t, `SELECT count(*) FROM sync_folders WHERE highest_modseq = 0 AND initial_done`); n != 2 {
		t.Fatalf("%d folders without CONDSTORE state, want 2", n)
	}
}
