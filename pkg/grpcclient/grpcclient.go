package grpcclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Defaults.
const (
	DefaultTimeout        = 2 * time.Second
	DefaultMaxAttempts    = 3
	DefaultInitialBackoff = 50 * time.Millisecond
	DefaultMaxBackoff     = 500 * time.Millisecond
)

type options struct {
	timeout        time.Duration
	creds          credentials.TransportCredentials
	registerer     prometheus.Registerer
	maxAttempts    int
	initialBackoff time.Duration
	maxBackoff     time.Duration
	extra          []grpc.DialOption
}

// Option configures Dial.
type Option func(*options)

// WithDefaultTimeout sets the deadline added to unary calls whose context
// has none (default 2 s); 0 or less adds none.
func WithDefaultTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithTransportCredentials replaces the default insecure credentials (TLS).
func WithTransportCredentials(c credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = c }
}

// WithRegisterer registers the client metrics on r (typically the service's
// registry, served on /metrics). Several connections may share one registry.
// Without it, no metrics are collected.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithRetry changes the retry policy for UNAVAILABLE: maxAttempts in total
// (2–5; gRPC caps it at 5), backoff growing from initial to max. maxAttempts
// below 2 disables retries.
func WithRetry(maxAttempts int, initial, max time.Duration) Option {
	return func(o *options) { o.maxAttempts, o.initialBackoff, o.maxBackoff = maxAttempts, initial, max }
}

// WithDialOptions appends raw gRPC dial options (applied last).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.extra = append(o.extra, opts...) }
}

// Dial returns a client connection to target (e.g. "127.0.0.1:50051" or
// "dns:///visibility:50051"). It does not connect until the first call.
func Dial(target string, opts ...Option) (*grpc.ClientConn, error) {
	o := options{
		timeout:        DefaultTimeout,
		creds:          insecure.NewCredentials(),
		maxAttempts:    DefaultMaxAttempts,
		initialBackoff: DefaultInitialBackoff,
		maxBackoff:     DefaultMaxBackoff,
	}
	for _, opt := range opts {
		opt(&o)
	}
	unary := []grpc.UnaryClientInterceptor{deadline(o.timeout)}
	var stream []grpc.StreamClientInterceptor
	if o.registerer != nil {
		m, err := register(o.registerer)
		if err != nil {
			return nil, err
		}
		unary = append(unary, m.UnaryClientInterceptor())
		stream = append(stream, m.StreamClientInterceptor())
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(o.creds),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
		grpc.WithDefaultServiceConfig(serviceConfig(o.maxAttempts, o.initialBackoff, o.maxBackoff)),
	}
	dialOpts = append(dialOpts, o.extra...)
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("grpcclient: %s: %w", target, err)
	}
	return conn, nil
}

// register adds the client metrics to r once; later connections reuse them.
func register(r prometheus.Registerer) (*grpcprom.ClientMetrics, error) {
	m := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets([]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}),
	))
	if err := r.Register(m); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*grpcprom.ClientMetrics); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("grpcclient: register metrics: %w", err)
	}
	return m, nil
}

// deadline adds timeout to unary calls without a deadline. Streams are left
// alone: a long-lived stream must not be cut by a default.
func deadline(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok && timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// serviceConfig is the default service config: retry UNAVAILABLE on every method.
func serviceConfig(maxAttempts int, initial, max time.Duration) string {
	if maxAttempts < 2 {
		return `{"loadBalancingConfig":[{"round_robin":{}}]}`
	}
	return fmt.Sprintf(`{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{}],
    "retryPolicy": {
      "maxAttempts": %d,
      "initialBackoff": "%.3fs",
      "maxBackoff": "%.3fs",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`, min(maxAttempts, 5), initial.Seconds(), max.Seconds())
}
