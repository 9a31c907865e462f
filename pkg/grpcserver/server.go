package grpcserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	"github.com/sightline/sightline/pkg/logging"
	"github.com/sightline/sightline/pkg/pg"
)

// Config configures a Server.
type Config struct {
	Logger   *zap.Logger
	Verifier *auth.Verifier
	// Registry receives the gRPC server metrics; NewRegistry makes one with Go and process collectors.
	Registry *prometheus.Registry
	// Ready is the readiness check (a database ping); nil means always ready.
	Ready         func(ctx context.Context) error
	ReadyInterval time.Duration
	DrainDelay    time.Duration
	ShutdownGrace time.Duration
	// QuietMethods are full method names whose successful calls log at debug
	// (high-rate reads); their failures are logged as any other.
	QuietMethods []string
	// Extra server options (message sizes, TLS credentials, ...).
	Options []grpc.ServerOption
}

// Server is a gRPC server with health, reflection and metrics.
type Server struct {
	*grpc.Server
	cfg     Config
	health  *health.Server
	metrics *grpcprom.ServerMetrics

	mu      sync.Mutex
	serving bool
}

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// New builds the server and its interceptor chain. Register services on
// s.Server before calling Run.
func New(cfg Config) *Server {
	if cfg.ReadyInterval <= 0 {
		cfg.ReadyInterval = time.Second
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 15 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets([]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}),
	))
	cfg.Registry.MustRegister(metrics)

	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		logging.FromContext(ctx).Error("panic in handler", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		return apierr.New(codes.Internal, apierr.CommonDomain, commonv1.ErrorReason_ERROR_REASON_INTERNAL.String(),
			"internal error; see the server log for this request id")
	})
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			logging.UnaryRequestID(cfg.Logger),
			logging.UnaryServer(cfg.QuietMethods...),
			metrics.UnaryServerInterceptor(),
			recovery.UnaryServerInterceptor(rec),
			unaryErrors,
			cfg.Verifier.UnaryServer(),
		),
		grpc.ChainStreamInterceptor(
			logging.StreamRequestID(cfg.Logger),
			logging.StreamServer(cfg.QuietMethods...),
			metrics.StreamServerInterceptor(),
			recovery.StreamServerInterceptor(rec),
			streamErrors,
			cfg.Verifier.StreamServer(),
		),
	}, cfg.Options...)

	s := &Server{Server: grpc.NewServer(opts...), cfg: cfg, health: health.NewServer(), metrics: metrics}
	healthpb.RegisterHealthServer(s.Server, s.health)
	reflection.Register(s.Server)
	return s
}

// toStatusErr is the single place handler errors become what the client sees.
func toStatusErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	// A domain error already says what the client sees, whatever its cause
	// (a mail provider's network error is not a database outage).
	var domain *apierr.Error
	if !errors.As(err, &domain) && pg.IsUnavailable(err) {
		err = apierr.Unavailable("database", err)
	}
	st, unexpected := apierr.ToStatus(err)
	log := logging.FromContext(ctx)
	switch {
	case unexpected:
		log.Error("unexpected error", zap.Error(err))
	case errors.Unwrap(err) != nil && st.Code() == codes.Unavailable:
		log.Warn("dependency unavailable", zap.Error(err))
	}
	return st.Err()
}

func unaryErrors(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		return nil, toStatusErr(ctx, err)
	}
	return resp, nil
}

func streamErrors(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return toStatusErr(ss.Context(), handler(srv, ss))
}

// setServing sets every registered service's health status.
func (s *Server) setServing(serving bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	// The overall status ("") is what probes watch, so it moves last on the
	// way up and first on the way down: whoever sees it SERVING finds every
	// service SERVING too.
	if !serving {
		s.health.SetServingStatus("", st)
	}
	for name := range s.Server.GetServiceInfo() {
		s.health.SetServingStatus(name, st)
	}
	if serving {
		s.health.SetServingStatus("", st)
	}
	if serving != s.serving {
		s.cfg.Logger.Info("health changed", zap.Bool("serving", serving))
	}
	s.serving = serving
}

// watchReadiness keeps health in step with the readiness check until ctx ends.
func (s *Server) watchReadiness(ctx context.Context) {
	check := func() {
		ok := true
		if s.cfg.Ready != nil {
			cctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyInterval+time.Second)
			err := s.cfg.Ready(cctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				ok = false
				s.mu.Lock()
				was := s.serving
				s.mu.Unlock()
				if was {
					s.cfg.Logger.Warn("readiness check failed", zap.Error(err))
				}
			}
		}
		if ctx.Err() == nil {
			s.setServing(ok)
		}
	}
	check()
	t := time.NewTicker(s.cfg.ReadyInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}

// Run serves gRPC on lis and /metrics on metricsLis (nil: no metrics
// listener) until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context, lis, metricsLis net.Listener) error {
	s.metrics.InitializeMetrics(s.Server)
	s.setServing(false)

	readyCtx, stopReady := context.WithCancel(context.Background())
	readyDone := make(chan struct{})
	go func() { defer close(readyDone); s.watchReadiness(readyCtx) }()

	var metricsSrv *http.Server
	errc := make(chan error, 2)
	if metricsLis != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := metricsSrv.Serve(metricsLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	go func() { errc <- s.Server.Serve(lis) }()
	s.cfg.Logger.Info("serving", zap.String("grpc_addr", lis.Addr().String()))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}

	// Shutdown: NOT_SERVING first, so probes and balancers stop routing here.
	stopReady()
	<-readyDone
	s.health.Shutdown()
	s.cfg.Logger.Info("shutting down", zap.Duration("drain_delay", s.cfg.DrainDelay), zap.Duration("grace", s.cfg.ShutdownGrace))
	time.Sleep(s.cfg.DrainDelay)
	force := time.AfterFunc(s.cfg.ShutdownGrace, func() {
		s.cfg.Logger.Warn("grace period over; cutting off remaining calls")
		s.Server.Stop()
	})
	s.Server.GracefulStop()
	force.Stop()
	if metricsSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = metricsSrv.Shutdown(sctx)
		cancel()
	}
	s.cfg.Logger.Info("stopped")
	return runErr
}
