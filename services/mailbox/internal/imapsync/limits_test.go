package imapsync_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

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

	m, err := imapsync.New(f.st, plain, imapsync.Config{Workers: 1, PollInterval: 100 * time.Millisecond,
		IdleTimeout: time.Second, LeaseTTL: 900 * time.Millisecond, MaxMessageBytes: 32 << 10, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

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
