package mailbox_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
)

// BenchmarkIngestGRPC measures IngestMessage end to end (gRPC, auth,
// parsing, the store) with 16 users ingesting in parallel.
func BenchmarkIngestGRPC(b *testing.B) {
	e := startB(b)
	const users = 16
	run := func(perUser, offset int) float64 {
		var wg sync.WaitGroup
		begin := time.Now()
		for u := 1; u <= users; u++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := e.Service(b, company)
				for i := offset; i < offset+perUser; i++ {
					m := mail{ID: fmt.Sprintf("u%d-%d@bench", u, i), From: fmt.Sprintf("c%d@customer.test", i/4),
						To: fmt.Sprintf("user%d@acme.test", u), Subject: fmt.Sprintf("Re: Conversation %d", i/4)}
					if i%4 != 0 {
						m.InReplyTo = fmt.Sprintf("<u%d-%d@bench>", u, i-1)
					}
					if _, err := e.mb.IngestMessage(ctx, &mailboxv1.IngestMessageRequest{UserId: int64(u), Raw: m.raw()}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return float64(users*perUser) / time.Since(begin).Seconds()
	}
	run(20, 0)
	if _, err := e.pool.Exec(b.Context(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	rate := run(max(b.N/users, 1), 1000)
	b.ReportMetric(rate, "msgs/s")
}
