package auth

import (
	"context"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	"github.com/sightline/sightline/pkg/logging"
)

// Public reports whether a method needs no token: health and reflection only.
func Public(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

func (v *Verifier) authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 {
		return ctx, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_MISSING,
			`missing bearer token: send metadata "authorization: Bearer <token>"`)
	}
	token, ok := bearer(values)
	if !ok {
		return ctx, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID,
			`the authorization metadata must be exactly one "Bearer <token>"`)
	}
	p, err := v.Verify(token)
	if err != nil {
		return ctx, err
	}
	ctx = logging.AddFields(ctx, zap.String("principal", p.String()))
	return NewContext(ctx, p), nil
}

// UnaryServer is the authentication interceptor.
func (v *Verifier) UnaryServer() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if Public(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := v.authenticate(ctx)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServer is the authentication interceptor for streams.
func (v *Verifier) StreamServer() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if Public(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := v.authenticate(ss.Context())
		if err != nil {
			return err
		}
		return handler(srv, logging.WrapStream(ss, ctx))
	}
}
