package visibilityclient_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sightline/sightline/pkg/auth"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/grpcclient"
	"github.com/sightline/sightline/services/mailbox/internal/visibilityclient"
)

// fakeVisibility allows even item ids, or fails with err; it records what it got.
type fakeVisibility struct {
	visibilityv1.UnimplementedVisibilityServiceServer
	err   error
	delay time.Duration

	mu      sync.Mutex
	tokens  []string
	userIDs []int64
	batches []int
}

func (f *fakeVisibility) BatchCheckAccess(ctx context.Context, req *visibilityv1.BatchCheckAccessRequest) (*visibilityv1.BatchCheckAccessResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.tokens = append(f.tokens, md.Get("authorization")...)
	f.userIDs = append(f.userIDs, req.GetUserId())
	f.batches = append(f.batches, len(req.GetItems()))
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	resp := &visibilityv1.BatchCheckAccessResponse{}
	for _, it := range req.GetItems() {
		resp.Results = append(resp.Results, &visibilityv1.AccessResult{Item: it, Allowed: it.GetId()%2 == 0})
	}
	return resp, nil
}

func serve(t *testing.T, f *fakeVisibility) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	visibilityv1.RegisterVisibilityServiceServer(s, f)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func checker(t *testing.T, addr string, timeout time.Duration) *visibilityclient.GRPC {
	t.Helper()
	conn, err := grpcclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return visibilityclient.NewGRPC(conn, timeout)
}

// asUser is a handler context with a verified user principal carrying its token.
func asUser() context.Context {
	p := auth.Principal{Kind: auth.KindUser, CompanyID: 1, UserID: 7}.WithToken("user-7-token")
	return auth.NewContext(context.Background(), p)
}

func TestGRPCAsksForTheCallerWithItsToken(t *testing.T) {
	f := &fakeVisibility{}
	c := checker(t, serve(t, f), 30*time.Second) // a generous budget: this test is not about it
	items := make([]visibilityclient.Item, 2500) // three batches of at most 1,000
	for i := range items {
		items[i] = visibilityclient.Item{Type: visibilityclient.Deal, ID: int64(i + 1)}
	}
	got, err := c.CanSee(asUser(), items)
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range got {
		if want := (i+1)%2 == 0; ok != want {
			t.Fatalf("item %d: %v, want %v", i+1, ok, want)
		}
	}
	if len(f.batches) != 3 || f.batches[0] != 1000 || f.batches[2] != 500 {
		t.Fatalf("batches %v", f.batches)
	}
	for i := range f.tokens {
		if f.tokens[i] != "Bearer user-7-token" || f.userIDs[i] != 0 {
			t.Fatalf("call %d: token %q user %d; want the caller's own token and user_id 0", i, f.tokens[i], f.userIDs[i])
		}
	}
	if got, err := c.CanSee(asUser(), nil); err != nil || len(got) != 0 {
		t.Fatalf("no items: %v %v", got, err)
	}
}

func TestGRPCTranslatesCodes(t *testing.T) {
	tests := []struct {
		code        codes.Code
		unavailable bool // else: all not visible
	}{
		{codes.NotFound, false},
		{codes.PermissionDenied, false},
		{codes.Unavailable, true},
		{codes.DeadlineExceeded, true},
		{codes.Internal, true},
		{codes.Unauthenticated, true},
		{codes.InvalidArgument, true},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			c := checker(t, serve(t, &fakeVisibility{err: status.Error(tt.code, "scripted")}), 30*time.Second)
			got, err := c.CanSee(asUser(), []visibilityclient.Item{{Type: visibilityclient.Deal, ID: 2}})
			if tt.unavailable {
				if !errors.Is(err, visibilityclient.ErrUnavailable) {
					t.Fatalf("err %v, want ErrUnavailable", err)
				}
				if _, ok := status.FromError(err); ok {
					t.Fatalf("visibility's status passed through: %v", err)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0] {
				t.Fatalf("got %v %v, want not visible", got, err)
			}
		})
	}
}

func TestGRPCTimeout(t *testing.T) {
	c := checker(t, serve(t, &fakeVisibility{delay: 5 * time.Second}), 200*time.Millisecond)
	begin := time.Now()
	_, err := c.CanSee(asUser(), []visibilityclient.Item{{Type: visibilityclient.Deal, ID: 2}})
	if !errors.Is(err, visibilityclient.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	// Cut by the 200 ms timeout, not by the server's 5 s: the margin is for
	// a busy machine.
	if el := time.Since(begin); el > 4*time.Second {
		t.Fatalf("took %v, want about the 200ms timeout", el)
	}
}

func TestTable(t *testing.T) {
	tb := visibilityclient.NewTable()
	deal := visibilityclient.Item{Type: visibilityclient.Deal, ID: 1}
	person := visibilityclient.Item{Type: visibilityclient.Person, ID: 1}
	tb.Allow(1, 7, deal)
	got, _ := tb.CanSee(asUser(), []visibilityclient.Item{deal, person})
	if !got[0] || got[1] {
		t.Fatalf("%v", got)
	}
	tb.SetDown(true)
	if _, err := tb.CanSee(asUser(), []visibilityclient.Item{deal}); !errors.Is(err, visibilityclient.ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	tb.SetDown(false)
	svc := auth.NewContext(context.Background(), auth.Principal{Kind: auth.KindService, CompanyID: 1, Service: "crm"})
	if got, _ := tb.CanSee(svc, []visibilityclient.Item{deal}); got[0] {
		t.Fatal("a service principal sees nothing")
	}
}
