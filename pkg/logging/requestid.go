package logging

import (
	"context"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// RequestIDHeader is the metadata key of the request id, read from callers
// that send one and always returned in the response header.
const RequestIDHeader = "x-request-id"

type requestIDKey struct{}

// RequestID returns the call's request id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts caller-chosen ids that are short and printable, so a
// request id can never inject anything into logs.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// withRequestID takes the caller's request id (or makes one), returns it in
// the response header and puts it, and a logger carrying it, in the context.
func withRequestID(ctx context.Context, base *zap.Logger) context.Context {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(RequestIDHeader); len(v) > 0 && validRequestID(v[0]) {
			id = v[0]
		}
	}
	if id == "" {
		id = uuid.NewString()
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
	ctx = context.WithValue(ctx, requestIDKey{}, id)
	return WithLogger(ctx, base.With(zap.String("request_id", id)))
}

// UnaryRequestID is the request-id interceptor: every later interceptor and
// the handler log through FromContext(ctx), which carries the id.
func UnaryRequestID(base *zap.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(withRequestID(ctx, base), req)
	}
}

// StreamRequestID is UnaryRequestID for streams.
func StreamRequestID(base *zap.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &wrappedStream{ServerStream: ss, ctx: withRequestID(ss.Context(), base)})
	}
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

// WrapStream returns ss with its context replaced by ctx (for stream interceptors).
func WrapStream(ss grpc.ServerStream, ctx context.Context) grpc.ServerStream {
	return &wrappedStream{ServerStream: ss, ctx: ctx}
}
