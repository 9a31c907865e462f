package mailbox_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/mailbox"
	"github.com/sightline/sightline/services/visibility"
)

// slowProxy forwards TCP to target, holding every chunk from the server for
// delay while slow is set: a visibility that answers, but too late.
type slowProxy struct {
	lis   net.Listener
	slow  atomic.Bool
	delay time.Duration
	wg    sync.WaitGroup
}

func newSlowProxy(t *testing.T, target string, delay time.Duration) *slowProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{lis: lis, delay: delay}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() {
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						if p.slow.Load() {
							time.Sleep(p.delay)
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { lis.Close(); p.wg.Wait() })
	return p
}

// TestFault_SlowVisibilityFailsClosedWithinTheDeadline: visibility still
// answers, but later than mailbox's --visibility-timeout. The detail view
// then answers UNAVAILABLE long before the caller's own deadline, never
// shows another user's thread, and works again once visibility is fast.
func TestFault_SlowVisibilityFailsClosedWithinTheDeadline(t *testing.T) {
	url := pgtest.New(t, bothMigrated)
	keys := servicetest.NewKeySpec(t)
	visIn := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys})
	proxy := newSlowProxy(t, visIn.Addr, 3*time.Second)
	mbIn := servicetest.Start(t, mailbox.Service(), servicetest.Options{DatabaseURL: url, AuthKeys: keys, Args: []string{
		"--visibility-addr", proxy.lis.Addr().String(), "--visibility-timeout", "300ms", "--sync-workers", "0"}})
	vc := visibilityv1.NewVisibilityServiceClient(visIn.Conn)
	mb := mailboxv1.NewMailboxServiceClient(mbIn.Conn)
	vsvc, msvc := visIn.Service(t, company), mbIn.Service(t, company)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	seedVisibility(t, vc, vsvc)
	must(mb.UpsertPerson(msvc, &mailboxv1.UpsertPersonRequest{PersonId: 100, Emails: []string{carol}}))
	must(mb.UpsertDeal(msvc, &mailboxv1.UpsertDealRequest{DealId: 10, Status: mailboxv1.DealStatus_DEAL_STATUS_OPEN, PersonIds: []int64{100}}))
	r, err := mb.IngestMessage(msvc, &mailboxv1.IngestMessageRequest{UserId: owner, Raw: inbound("slow@x", "Slow").raw()})
	if err != nil {
		t.Fatal(err)
	}
	must(mb.ShareThreads(mbIn.User(t, company, owner), &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{r.GetThreadId()}}))

	bobSees := func() (int, error) {
		ctx, cancel := context.WithTimeout(mbIn.User(t, company, bob), 10*time.Second)
		defer cancel()
		list, err := mb.ListItemThreads(ctx, &mailboxv1.ListItemThreadsRequest{Item: dealRef(10)})
		return len(list.GetThreads()), err
	}
	// The 300 ms deadline holds for the first calls too, which connect
	// through the proxy and have visibility load the company: on a busy
	// machine they may fail closed. Polled, with the liveness bound of the
	// recovery below; an answer must be the shared thread.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n, err := bobSees()
		if err == nil && n == 1 {
			break
		}
		if err == nil || n != 0 || status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			t.Fatalf("before: %d threads, %v; want the shared thread", n, err)
		}
	}

	proxy.slow.Store(true)
	for range 3 {
		n, err := bobSees()
		if n != 0 {
			t.Fatalf("a slow visibility let another user's thread through (%d threads)", n)
		}
		// UNAVAILABLE from mailbox's own 300 ms deadline, not the caller's 10 s one.
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("slow visibility: %v, want UNAVAILABLE", err)
		}
		// GetItemThread fails closed the same way.
		ctx, cancel := context.WithTimeout(mbIn.User(t, company, bob), 10*time.Second)
		_, err = mb.GetItemThread(ctx, &mailboxv1.GetItemThreadRequest{Item: dealRef(10), ThreadId: r.GetThreadId()})
		cancel()
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("GetItemThread with a slow visibility: %v, want UNAVAILABLE", err)
		}
	}

	proxy.slow.Store(false)
	deadline := time.Now().Add(30 * time.Second) // a liveness bound: connections held by the slow phase drain
	for {
		n, err := bobSees()
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never recovered: %d threads, %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
