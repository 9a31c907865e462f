package grpcclient_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/sightline/sightline/pkg/grpcclient"
)

// flaky answers Check with the next code of its script (OK once it runs out)
// and records the deadline each call had.
type flaky struct {
	healthpb.UnimplementedHealthServer
	script   []codes.Code
	calls    atomic.Int32
	deadline atomic.Int64 // remaining time of the last call, ns; -1 none
}

func (f *flaky) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	n := int(f.calls.Add(1)) - 1
	if d, ok := ctx.Deadline(); ok {
		f.deadline.Store(int64(time.Until(d)))
	} else {
		f.deadline.Store(-1)
	}
	if n < len(f.script) && f.script[n] != codes.OK {
		return nil, status.Error(f.script[n], "scripted")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func serve(t *testing.T, f *flaky) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, f)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func dial(t *testing.T, addr string, opts ...grpcclient.Option) healthpb.HealthClient {
	t.Helper()
	conn, err := grpcclient.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func TestRetriesUnavailableOnly(t *testing.T) {
	tests := []struct {
		name      string
		script    []codes.Code
		wantCode  codes.Code
		wantCalls int32
	}{
		{"unavailable twice then ok", []codes.Code{codes.Unavailable, codes.Unavailable}, codes.OK, 3},
		{"unavailable three times gives up", []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable, codes.Unavailable}, codes.Unavailable, 3},
		{"internal is not retried", []codes.Code{codes.Internal}, codes.Internal, 1},
		{"not found is not retried", []codes.Code{codes.NotFound}, codes.NotFound, 1},
		{"deadline exceeded is not retried", []codes.Code{codes.DeadlineExceeded}, codes.DeadlineExceeded, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{script: tt.script}
			c := dial(t, serve(t, f))
			// A generous deadline of the caller's own: the attempts (and the
			// connect before the first) never run out of time, however slow
			// the machine, so only the retry policy decides their number.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code %v, want %v (%v)", got, tt.wantCode, err)
			}
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Fatalf("server saw %d attempts, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestDefaultDeadline(t *testing.T) {
	f := &flaky{}
	addr := serve(t, f)

	// The default is long enough that the first call (which also connects)
	// never runs into it; the bounds leave 10s for getting there.
	c := dial(t, addr, grpcclient.WithDefaultTimeout(30*time.Second))
	if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(f.deadline.Load()); d <= 20*time.Second || d > 30*time.Second {
		t.Fatalf("server saw remaining %v, want the default deadline of 30s", d)
	}

	// A deadline of the caller's own wins, even one longer than the default.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(f.deadline.Load()); d <= 90*time.Second || d > 2*time.Minute {
		t.Fatalf("server saw remaining %v, want the caller's 2m", d)
	}
}

func TestUnreachableFailsWithinDeadline(t *testing.T) {
	// Port 1 (tcpmux): nothing listens there, and no test can take it, as
	// one could a port closed just now.
	c := dial(t, "127.0.0.1:1", grpcclient.WithDefaultTimeout(2*time.Second))
	start := time.Now()
	_, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if code := status.Code(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Fatalf("code %v, want UNAVAILABLE or DEADLINE_EXCEEDED", code)
	}
	// Bounded by the default deadline (2 s) rather than hanging; the margin
	// is for a busy machine, not a speed assertion.
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("took %v", el)
	}
}

func TestMetrics(t *testing.T) {
	f := &flaky{}
	addr := serve(t, f)
	reg := prometheus.NewRegistry()
	c1 := dial(t, addr, grpcclient.WithRegisterer(reg))
	c2 := dial(t, addr, grpcclient.WithRegisterer(reg)) // a second connection shares the collectors
	for _, c := range []healthpb.HealthClient{c1, c2} {
		if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var handled float64
	for _, mf := range mfs {
		if mf.GetName() == "grpc_client_handled_total" {
			for _, m := range mf.GetMetric() {
				handled += m.GetCounter().GetValue()
			}
		}
	}
	if handled != 2 {
		t.Fatalf("grpc_client_handled_total = %v, want 2", handled)
	}
}
