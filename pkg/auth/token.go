package auth

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
)

// Issuer and Audience are required in every token.
const (
	Issuer   = "sightline"
	Audience = "sightline"
	leeway   = 30 * time.Second
)

type claims struct {
	jwt.RegisteredClaims
	Kind      string `json:"kind"`
	CompanyID int64  `json:"cid"`
	UserID    int64  `json:"uid,omitempty"`
	Service   string `json:"svc,omitempty"`
}

// Verifier checks bearer tokens against the configured keys.
type Verifier struct {
	keys   map[string]Key
	parser *jwt.Parser

	// Tokens verified before, until they expire: a caller sends the same
	// token on every call, and parsing plus HMAC or Ed25519 on each one would
	// cost more than most decisions. Keys are fixed for the process, so a
	// cached verification stays valid until the token's own expiry.
	mu    sync.RWMutex
	cache map[string]cached
}

type cached struct {
	p       Principal
	expires time.Time
}

// maxCached bounds the cache; past it the cache is cleared (tokens are short-lived).
const maxCached = 100_000

// NewVerifier returns a verifier accepting tokens signed by any of keys.
func NewVerifier(keys []Key) *Verifier {
	v := &Verifier{keys: make(map[string]Key, len(keys)), cache: map[string]cached{}}
	methods := map[string]bool{}
	for _, k := range keys {
		v.keys[k.ID] = k
		methods[k.Method.Alg()] = true
	}
	var algs []string
	for a := range methods {
		algs = append(algs, a)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
	)
	return v
}

func unauthenticated(reason commonv1.ErrorReason, msg string) *apierr.Error {
	return apierr.New(codes.Unauthenticated, apierr.CommonDomain, reason.String(), "%s", msg)
}

// Verify returns the principal a token names, or an UNAUTHENTICATED *apierr.Error.
func (v *Verifier) Verify(token string) (Principal, error) {
	v.mu.RLock()
	hit, ok := v.cache[token]
	v.mu.RUnlock()
	if ok && time.Now().Before(hit.expires) {
		return hit.p, nil
	}
	p, expires, err := v.verify(token)
	if err != nil {
		return Principal{}, err
	}
	v.mu.Lock()
	if len(v.cache) >= maxCached {
		clear(v.cache)
	}
	v.cache[token] = cached{p: p, expires: expires}
	v.mu.Unlock()
	return p, nil
}

func (v *Verifier) verify(token string) (Principal, time.Time, error) {
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := v.keys[kid]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		if t.Method.Alg() != k.Method.Alg() {
			return nil, errors.New("algorithm does not match the key")
		}
		return k.verify, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return Principal{}, time.Time{}, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_EXPIRED, "the bearer token has expired or is not valid yet")
	case err != nil:
		return Principal{}, time.Time{}, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, "the bearer token is not valid")
	}
	p := Principal{CompanyID: c.CompanyID, token: token}
	switch c.Kind {
	case "user":
		p.Kind, p.UserID = KindUser, c.UserID
		if c.UserID <= 0 || c.Subject != "user:"+strconv.FormatInt(c.UserID, 10) {
			return Principal{}, time.Time{}, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, "the bearer token names no valid user")
		}
	case "service":
		p.Kind, p.Service = KindService, c.Service
		if c.Service == "" || c.Subject != "service:"+c.Service {
			return Principal{}, time.Time{}, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, "the bearer token names no valid service")
		}
	default:
		return Principal{}, time.Time{}, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, "the bearer token names no principal kind")
	}
	if c.CompanyID <= 0 {
		return Principal{}, time.Time{}, unauthenticated(commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, "the bearer token names no company")
	}
	return p, c.ExpiresAt.Add(leeway), nil
}

// Mint signs a token for p valid for ttl, with key (which must be able to sign).
func Mint(key Key, p Principal, ttl time.Duration) (string, error) {
	if !key.CanSign() {
		return "", fmt.Errorf("key %q is verify-only", key.ID)
	}
	now := time.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-leeway)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Kind:      p.Kind.String(),
		CompanyID: p.CompanyID,
	}
	switch p.Kind {
	case KindUser:
		c.UserID = p.UserID
		c.Subject = "user:" + strconv.FormatInt(p.UserID, 10)
	case KindService:
		c.Service = p.Service
		c.Subject = "service:" + p.Service
	default:
		return "", fmt.Errorf("principal has no kind")
	}
	t := jwt.NewWithClaims(key.Method, c)
	t.Header["kid"] = key.ID
	return t.SignedString(key.sign)
}
