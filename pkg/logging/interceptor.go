package logging

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// levelFor chooses how loud a finished call is: server faults are errors,
// dependency trouble warnings, everything else (including the client's own
// mistakes) info. Successful health checks and successful calls to quiet
// methods (high-rate reads such as access decisions) are debug, so probes and
// hot paths neither drown the log nor pay for a line each.
func levelFor(method string, code codes.Code, quiet map[string]bool) zapcore.Level {
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return zapcore.ErrorLevel
	case codes.Unavailable, codes.DeadlineExceeded:
		return zapcore.WarnLevel
	case codes.OK:
		if quiet[method] || strings.HasPrefix(method, "/grpc.health.v1.Health/") {
			return zapcore.DebugLevel
		}
	}
	return zapcore.InfoLevel
}

func logCall(ctx context.Context, cf *callFields, method string, start time.Time, err error, quiet map[string]bool) {
	code := status.Code(err)
	log := FromContext(ctx)
	lvl := levelFor(method, code, quiet)
	if !log.Core().Enabled(lvl) {
		return
	}
	fields := append([]zap.Field{
		zap.String("grpc.method", method),
		zap.String("grpc.code", code.String()),
		zap.Float64("grpc.duration_ms", float64(time.Since(start).Microseconds())/1000),
	}, cf.fields...)
	log.Log(lvl, "grpc call finished", fields...)
}

// UnaryServer writes one line per call with method, code, duration and the
// fields added with AddFields. It must run after the request-id interceptor.
// Successful calls to the quiet methods (full names) are logged at debug.
func UnaryServer(quiet ...string) grpc.UnaryServerInterceptor {
	q := quietSet(quiet)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		cf := &callFields{}
		ctx = context.WithValue(ctx, callFieldsKey{}, cf)
		resp, err := handler(ctx, req)
		logCall(ctx, cf, info.FullMethod, start, err, q)
		return resp, err
	}
}

// StreamServer is UnaryServer for streams (one line when the stream ends).
func StreamServer(quiet ...string) grpc.StreamServerInterceptor {
	q := quietSet(quiet)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		cf := &callFields{}
		ctx := context.WithValue(ss.Context(), callFieldsKey{}, cf)
		err := handler(srv, WrapStream(ss, ctx))
		logCall(ctx, cf, info.FullMethod, start, err, q)
		return err
	}
}

func quietSet(methods []string) map[string]bool {
	q := make(map[string]bool, len(methods))
	for _, m := range methods {
		q[m] = true
	}
	return q
}
