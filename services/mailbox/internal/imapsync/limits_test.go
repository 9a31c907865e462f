package imapsync_test

import (
	"bytes"
	"testing"

	"go.uber.org/zap"

	"github.com/sightline/sightline/services/mailbox/internal/imapsync"
)

// A message over MaxMessageBytes (by its RFC822.SIZE) is never downloaded:
// its UID is recorded without a message, so it is not asked for again, and
// the messages around it are synced as usual.
func TestSync_OversizedMessageIsNotDownloaded(t *testing.T) {
	f := newFixture(t, 3)
	big := append([]byte("Message-ID: <big@customer.test>\r\nFrom: carol@customer.test\r\nTo: alice@acme.test\r\n"+
		"Subject: Huge\r\nDate: Mon, 02 Mar 2026 11:00:00 +0000\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 4000)...)
	f.dv.Append(t, "alice", "INBOX", big)

	run(t, f, nil, zap.NewNop(), "", func(c *imapsync.Config) { c.Workers, c.MaxMessageBytes = 1, 32<<10 })

	waitFor(t, "four UIDs looked at", func() bool { return f.count(t, `SELECT count(*) FROM message_locations`) == 4 })
	if n := f.count(t, `SELECT count(*) FROM messages`); n != 3 {
		t.Fatalf("%d messages stored, want the 3 small ones", n)
	}
	if n := f.count(t, `SELECT count(*) FROM messages WHERE internet_message_id = 'big@customer.test'`); n != 0 {
		t.Fatal("the oversized message was stored")
	}
	if n := f.count(t, `SELECT count(*) FROM message_locations WHERE message_id IS NULL`); n != 1 {
		t.Fatalf("%d UIDs recorded without a message, want the oversized one", n)
	}
}
