package mailbox_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// TestFault_PostgresRestartUnderIngest: PostgreSQL stops and starts again
// while messages are ingested and inboxes listed. The mailbox reports
// NOT_SERVING, answers UNAVAILABLE (never INTERNAL) while the database is
// away, recovers without a restart, and every acknowledged message is there
// afterwards, exactly once.
func TestFault_PostgresRestartUnderIngest(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	url := cluster.CreateDatabase(t, migrated)
	in := servicetest.Start(t, mailbox.ServiceWithVisibility(visibilityclient.NewTable()),
		servicetest.Options{DatabaseURL: url, Args: []string{"--sync-workers", "0"}})
	mb := mailboxv1.NewMailboxServiceClient(in.Conn)
	svc, me := in.Service(t, company), in.User(t, company, owner)

	var (
		next     atomic.Int64
		ackedIDs sync.Map
	)
	load := servicetest.PostgresOutage(t, cluster, in.Conn, 3, func(w int, l *servicetest.Load) {
		i := next.Add(1)
		id := fmt.Sprintf("fault-%d@x", i)
		ctx, cancel := context.WithTimeout(svc, 3*time.Second)
		_, err := mb.IngestMessage(ctx, &mailboxv1.IngestMessageRequest{UserId: owner, Folder: "INBOX",
			Raw: inbound(id, fmt.Sprintf("Fault %d", i)).raw()})
		cancel()
		if l.Record(err) {
			l.Ack()
			ackedIDs.Store(id, true)
		}
		if w == 0 {
			ctx, cancel := context.WithTimeout(me, 3*time.Second)
			_, err := mb.ListThreads(ctx, &mailboxv1.ListThreadsRequest{Folder: inbox})
			cancel()
			l.Record(err)
		}
	})

	// Every acknowledged message is stored, exactly once.
	pool := openPool(t, url, 2)
	copies := map[string]int{}
	rows, err := pool.Query(context.Background(), `SELECT internet_message_id FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		copies[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ackedIDs.Range(func(k, _ any) bool {
		if n := copies[k.(string)]; n != 1 {
			t.Errorf("acknowledged message %s is stored %d times", k, n)
		}
		return true
	})
	stored := len(copies)
	t.Logf("%d messages acknowledged (%d stored, the rest unacknowledged but committed), %d calls refused during the outage",
		load.Acked(), stored, load.Refused())
}
