package mailbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
)

// TestFault_KillDuringBulkShareAndIngestIsAllOrNothing kills the mailbox
// process (SIGKILL: no drain, no cleanup) while a bulk share of 1,000
// threads and a batch ingest of 300 messages are in flight, at several
// moments. After a restart each operation has happened entirely or not at
// all, and retrying it converges on the complete result with nothing
// doubled (M3, S2).
func TestFault_KillDuringBulkShareAndIngestIsAllOrNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a real mailbox process several times")
	}
	bin := servicetest.Build(t, "github.com/sightline/sightline/services/mailbox/cmd/mailbox")
	url := pgtest.New(t, migrated)
	p := servicetest.StartProcess(t, bin, servicetest.Options{DatabaseURL: url,
		Args: []string{"--visibility-addr", "127.0.0.1:1"}})
	pool := openPool(t, url, 2)
	mb := mailboxv1.NewMailboxServiceClient(p.Conn)
	count := func(q string, args ...any) int { t.Helper(); return scalar(t, pool, q, args...) }

	// 1,000 threads of the owner, through batches.
	var ids []int64
	for b := range 4 {
		var msgs []*mailboxv1.IngestMessageRequest
		for i := range 250 {
			msgs = append(msgs, entry(inbound(fmt.Sprintf("seed-%d-%d@x", b, i), fmt.Sprintf("Seed %d %d", b, i))))
		}
		r, err := mb.BatchIngestMessages(p.Service(t, company), &mailboxv1.BatchIngestMessagesRequest{UserId: owner, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range r.GetResults() {
			ids = append(ids, x.GetThreadId())
		}
	}

	// The kills land across the calls' lifetime: fractions of how long the
	// pair takes here, measured first without a kill.
	var full time.Duration
	fractions := []float64{-1, 0.1, 0.3, 0.5, 0.7, 0.9, 1.2}
	for round, f := range fractions {
		d := time.Duration(f * float64(full))
		share := round%2 == 0 // share, then unshare, ...
		var msgs []*mailboxv1.IngestMessageRequest
		for i := range 300 {
			msgs = append(msgs, entry(inbound(fmt.Sprintf("r%d-%d@x", round, i), fmt.Sprintf("Round %d %d", round, i))))
		}
		shareReq := func() error {
			ctx, cancel := context.WithTimeout(p.User(t, company, owner), 20*time.Second)
			defer cancel()
			if share {
				_, err := mb.ShareThreads(ctx, &mailboxv1.ShareThreadsRequest{ThreadIds: ids})
				return err
			}
			_, err := mb.UnshareThreads(ctx, &mailboxv1.UnshareThreadsRequest{ThreadIds: ids})
			return err
		}
		ingestReq := func() error {
			ctx, cancel := context.WithTimeout(p.Service(t, company), 20*time.Second)
			defer cancel()
			_, err := mb.BatchIngestMessages(ctx, &mailboxv1.BatchIngestMessagesRequest{UserId: owner, Messages: msgs})
			return err
		}
		shareDone, ingestDone := make(chan error, 1), make(chan error, 1)
		begin := time.Now()
		go func() { shareDone <- shareReq() }()
		go func() { ingestDone <- ingestReq() }()
		if f < 0 {
			// The measuring round: no kill.
			if err := <-shareDone; err != nil {
				t.Fatal(err)
			}
			if err := <-ingestDone; err != nil {
				t.Fatal(err)
			}
			full = time.Since(begin)
			t.Logf("share of %d threads and a batch of %d messages together: %v", len(ids), len(msgs), full)
			continue
		}
		time.Sleep(d)
		p.Kill(t)
		shareErr, ingestErr := <-shareDone, <-ingestDone

		sharedNow := count(`SELECT count(*) FROM threads WHERE owner_id = $1 AND id = ANY($2) AND shared`, owner, ids)
		if sharedNow != 0 && sharedNow != len(ids) {
			t.Fatalf("round %d (kill after %v): %d of %d threads shared: a bulk share was cut in half", round, d, sharedNow, len(ids))
		}
		if shareErr == nil && (sharedNow == len(ids)) != share {
			t.Fatalf("round %d: the share was acknowledged but not applied", round)
		}
		stored := count(`SELECT count(*) FROM messages WHERE internet_message_id LIKE $1`, fmt.Sprintf("r%d-%%", round))
		if stored != 0 && stored != len(msgs) {
			t.Fatalf("round %d (kill after %v): %d of %d messages of a batch stored", round, d, stored, len(msgs))
		}
		if ingestErr == nil && stored != len(msgs) {
			t.Fatalf("round %d: the batch was acknowledged but %d messages are stored", round, stored)
		}
		t.Logf("round %d, kill after %v: share %s, batch %s", round, d, outcome(shareErr, sharedNow > 0 == share), outcome(ingestErr, stored > 0))

		// Retrying after a restart completes both, with nothing doubled.
		p.Restart(t)
		if err := shareReq(); err != nil {
			t.Fatal(err)
		}
		if err := ingestReq(); err != nil {
			t.Fatal(err)
		}
		if n := count(`SELECT count(*) FROM messages WHERE internet_message_id LIKE $1`, fmt.Sprintf("r%d-%%", round)); n != len(msgs) {
			t.Fatalf("round %d: %d messages after the retry, want %d", round, n, len(msgs))
		}
	}
}

func outcome(err error, applied bool) string {
	switch {
	case err == nil:
		return "acknowledged"
	case applied:
		return "applied, not acknowledged"
	default:
		return "not applied"
	}
}
