package auth

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Kind is the kind of principal a token names.
type Kind int

const (
	KindUser Kind = iota + 1
	KindService
)

func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindService:
		return "service"
	}
	return "unknown"
}

// Principal is the verified caller.
type Principal struct {
	Kind      Kind
	CompanyID int64
	UserID    int64  // KindUser only
	Service   string // KindService only

	token string // the raw bearer token, forwarded to other Sightline services; never logged
}

// IsUser reports whether the principal is a user.
func (p Principal) IsUser() bool { return p.Kind == KindUser }

// IsService reports whether the principal is a service.
func (p Principal) IsService() bool { return p.Kind == KindService }

// String identifies the principal for logs (never includes the token).
func (p Principal) String() string {
	if p.Kind == KindService {
		return fmt.Sprintf("service:%s@company:%d", p.Service, p.CompanyID)
	}
	return fmt.Sprintf("user:%d@company:%d", p.UserID, p.CompanyID)
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the verified principal of the call.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// OutgoingContext returns ctx with the caller's own bearer token in the
// outgoing metadata, so a downstream Sightline service sees the same caller.
func OutgoingContext(ctx context.Context) context.Context {
	p, ok := FromContext(ctx)
	if !ok || p.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+p.token)
}

// WithToken returns p carrying a raw token (for callers that mint their own).
func (p Principal) WithToken(token string) Principal { p.token = token; return p }

// bearer extracts the token from "Bearer <token>" (scheme case-insensitive).
func bearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
