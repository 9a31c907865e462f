package grpcserver_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	"github.com/sightline/sightline/pkg/grpcserver"
)

// testService: EmptyCall answers, UnaryCall sleeps ResponseSize milliseconds,
// CacheableUnaryCall panics with a message that must never reach the client.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	started chan struct{}
}

const panicText = "secret panic detail"

func (s *testService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

func (s *testService) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if req.GetFillServerId() {
		// A domain error caused by a network error that is not the database's.
		netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		return nil, apierr.New(codes.FailedPrecondition, "test.sightline.dev", "SMTP_REFUSED", "the mail server refused").WithCause(netErr)
	}
	if s.started != nil {
		s.started <- struct{}{}
	}
	time.Sleep(time.Duration(req.GetResponseSize()) * time.Millisecond)
	return &testgrpc.SimpleResponse{Username: "done"}, nil
}

func (s *testService) CacheableUnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	panic(panicText)
}

func newKey(t *testing.T, kid string) auth.Key {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.ParseKeys(kid+"=hs256:"+base64.StdEncoding.EncodeToString(secret), true)
	if err != nil {
		t.Fatal(err)
	}
	return keys[0]
}

type harness struct {
	conn   *grpc.ClientConn
	key    auth.Key
	logs   *observer.ObservedLogs
	stop   context.CancelFunc
	done   chan error
	client testgrpc.TestServiceClient
	svc    *testService
}

func start(t *testing.T, mutate func(*grpcserver.Config)) *harness {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	key := newKey(t, "k1")
	cfg := grpcserver.Config{
		Logger:        zap.New(core),
		Verifier:      auth.NewVerifier([]auth.Key{key}),
		ReadyInterval: 20 * time.Millisecond,
		DrainDelay:    10 * time.Millisecond,
		ShutdownGrace: 5 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv := grpcserver.New(cfg)
	svc := &testService{}
	testgrpc.RegisterTestServiceServer(srv.Server, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis, nil) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{conn: conn, key: key, logs: logs, stop: stop, done: done, client: testgrpc.NewTestServiceClient(conn), svc: svc}
	t.Cleanup(func() {
		conn.Close()
		stop()
		<-done
	})
	return h
}

func (h *harness) token(t *testing.T, key auth.Key, ttl time.Duration) context.Context {
	t.Helper()
	tok, err := auth.Mint(key, auth.Principal{Kind: auth.KindUser, UserID: 7, CompanyID: 3}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func TestAuthenticationRefusesBadTokens(t *testing.T) {
	h := start(t, nil)
	cases := []struct {
		name   string
		ctx    context.Context
		code   codes.Code
		reason commonv1.ErrorReason
	}{
		{"no token", context.Background(), codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_MISSING},
		{"not bearer", metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic abc"), codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID},
		{"garbage", metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer abc.def.ghi"), codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID},
		{"expired", h.token(t, h.key, -time.Hour), codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_EXPIRED},
		{"other key, same kid", h.token(t, newKey(t, "k1"), time.Hour), codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID},
		{"unknown kid", h.token(t, newKey(t, "k2"), time.Hour), codes.Unauthenticated, commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID},
		{"valid", h.token(t, h.key, time.Hour), codes.OK, commonv1.ErrorReason_ERROR_REASON_UNSPECIFIED},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.client.EmptyCall(c.ctx, &testgrpc.Empty{})
			if got := status.Code(err); got != c.code {
				t.Fatalf("code = %v, want %v (%v)", got, c.code, err)
			}
			if c.code != codes.OK && apierr.Reason(err) != c.reason.String() {
				t.Fatalf("reason = %q, want %q", apierr.Reason(err), c.reason)
			}
		})
	}
}

func TestHealthAndReflectionNeedNoToken(t *testing.T) {
	h := start(t, nil)
	waitHealth(t, h.conn, healthpb.HealthCheckResponse_SERVING)
	resp, err := healthpb.NewHealthClient(h.conn).Check(context.Background(),
		&healthpb.HealthCheckRequest{Service: "grpc.testing.TestService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("per-service health = %v, %v", resp, err)
	}
}

// A domain error keeps its code and reason even when its cause is a network
// error (only bare errors of the database become UNAVAILABLE "database").
func TestDomainErrorWinsOverItsNetworkCause(t *testing.T) {
	h := start(t, nil)
	_, err := h.client.UnaryCall(h.token(t, h.key, time.Hour), &testgrpc.SimpleRequest{FillServerId: true})
	if status.Code(err) != codes.FailedPrecondition || apierr.Reason(err) != "SMTP_REFUSED" {
		t.Fatalf("got %v (reason %q), want the handler's FAILED_PRECONDITION SMTP_REFUSED", err, apierr.Reason(err))
	}
}

func TestPanicBecomesInternalWithoutPanicText(t *testing.T) {
	h := start(t, nil)
	_, err := h.client.CacheableUnaryCall(h.token(t, h.key, time.Hour), &testgrpc.SimpleRequest{})
	if status.Code(err) != codes.Internal {
		t.Fatalf("code = %v, want Internal", status.Code(err))
	}
	if strings.Contains(err.Error(), panicText) {
		t.Fatalf("panic text reached the client: %v", err)
	}
	if apierr.Reason(err) != commonv1.ErrorReason_ERROR_REASON_INTERNAL.String() {
		t.Fatalf("reason = %q", apierr.Reason(err))
	}
	// The server keeps serving, and the panic is in the log with its request id.
	if _, err := h.client.EmptyCall(h.token(t, h.key, time.Hour), &testgrpc.Empty{}); err != nil {
		t.Fatalf("after panic: %v", err)
	}
	panics := h.logs.FilterMessage("panic in handler").All()
	if len(panics) != 1 || panics[0].ContextMap()["request_id"] == "" {
		t.Fatalf("panic log lines = %+v", panics)
	}
}

func TestEveryCallLineCarriesRequestID(t *testing.T) {
	h := start(t, nil)
	var header metadata.MD
	ctx := metadata.AppendToOutgoingContext(h.token(t, h.key, time.Hour), "x-request-id", "my-req-1")
	if _, err := h.client.EmptyCall(ctx, &testgrpc.Empty{}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "my-req-1" {
		t.Fatalf("response x-request-id = %v", got)
	}
	// An id that could inject into logs is replaced by a fresh one.
	ctx = metadata.AppendToOutgoingContext(h.token(t, h.key, time.Hour), "x-request-id", "bad id with {spaces} and braces")
	if _, err := h.client.EmptyCall(ctx, &testgrpc.Empty{}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || strings.ContainsAny(got[0], " \n") {
		t.Fatalf("response x-request-id = %v", got)
	}
	calls := h.logs.FilterMessage("grpc call finished").FilterField(zap.String("grpc.method", "/grpc.testing.TestService/EmptyCall")).All()
	if len(calls) != 2 {
		t.Fatalf("call lines = %d", len(calls))
	}
	for _, c := range calls {
		m := c.ContextMap()
		if m["request_id"] == "" || m["principal"] != "user:7@company:3" || m["grpc.code"] != "OK" {
			t.Fatalf("call line fields = %v", m)
		}
		for k, v := range m {
			if s, ok := v.(string); ok && strings.Contains(s, "eyJ") {
				t.Fatalf("a token reached the log in %s", k)
			}
		}
	}
}

func TestShutdownLetsInFlightCallFinish(t *testing.T) {
	h := start(t, func(c *grpcserver.Config) { c.DrainDelay = 50 * time.Millisecond })
	h.svc.started = make(chan struct{}, 1)
	ctx := h.token(t, h.key, time.Hour)
	type result struct {
		resp *testgrpc.SimpleResponse
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := h.client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 300})
		res <- result{resp, err}
	}()
	<-h.svc.started
	h.stop() // shutdown begins while the call is in flight
	r := <-res
	if r.err != nil || r.resp.GetUsername() != "done" {
		t.Fatalf("in-flight call = %v, %v", r.resp, r.err)
	}
	if err := <-h.done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	h.done <- nil // for cleanup
	if _, err := h.client.EmptyCall(ctx, &testgrpc.Empty{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("after shutdown: %v", err)
	}
}

func TestShutdownCutsOffCallsAfterGrace(t *testing.T) {
	h := start(t, func(c *grpcserver.Config) { c.ShutdownGrace = 100 * time.Millisecond })
	h.svc.started = make(chan struct{}, 1)
	res := make(chan error, 1)
	go func() {
		_, err := h.client.UnaryCall(h.token(t, h.key, time.Hour), &testgrpc.SimpleRequest{ResponseSize: 5000})
		res <- err
	}()
	<-h.svc.started
	h.stop()
	if err := <-h.done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	h.done <- nil
	if err := <-res; status.Code(err) != codes.Unavailable {
		t.Fatalf("cut-off call = %v, want Unavailable", err)
	}
}

func TestReadinessFollowsCheck(t *testing.T) {
	var failing = make(chan bool, 1)
	failing <- false
	h := start(t, func(c *grpcserver.Config) {
		c.Ready = func(context.Context) error {
			f := <-failing
			failing <- f
			if f {
				return errors.New("db down")
			}
			return nil
		}
	})
	waitHealth(t, h.conn, healthpb.HealthCheckResponse_SERVING)
	<-failing
	failing <- true
	waitHealth(t, h.conn, healthpb.HealthCheckResponse_NOT_SERVING)
	<-failing
	failing <- false
	waitHealth(t, h.conn, healthpb.HealthCheckResponse_SERVING)
}

// waitHealth polls until the overall health is want (or fails after 10 s: a
// liveness bound, not a speed assertion).
func waitHealth(t *testing.T, conn *grpc.ClientConn, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never became %v (last %v, %v)", want, resp.GetStatus(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
