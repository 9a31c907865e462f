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
func BenchmarkIngestGRPC(b *testing.B) { benchIngestGRPC(b, 1) }

// BenchmarkBatchIngestGRPC is the same load through BatchIngestMessages,
// 50 messages per call.
func BenchmarkBatchIngestGRPC(b *testing.B) { benchIngestGRPC(b, 50) }

func benchIngestGRPC(b *testing.B, batch int) {
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
				var pending []*mailboxv1.IngestMessageRequest
				for i := offset; i < offset+perUser; i++ {
					m := mail{ID: fmt.Sprintf("u%d-%d@bench", u, i), From: fmt.Sprintf("c%d@customer.test", i/4),
						To: fmt.Sprintf("user%d@acme.test", u), Subject: fmt.Sprintf("Re: Conversation %d", i/4)}
					if i%4 != 0 {
						m.InReplyTo = fmt.Sprintf("<u%d-%d@bench>", u, i-1)
					}
					req := &mailboxv1.IngestMessageRequest{UserId: int64(u), Raw: m.raw()}
					if batch == 1 {
						if _, err := e.mb.IngestMessage(ctx, req); err != nil {
							b.Error(err)
							return
						}
						continue
					}
					if pending = append(pending, req); len(pending) == batch || i == offset+perUser-1 {
						if _, err := e.mb.BatchIngestMessages(ctx, &mailboxv1.BatchIngestMessagesRequest{UserId: int64(u), Messages: pending}); err != nil {
							b.Error(err)
							return
						}
						pending = nil
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
