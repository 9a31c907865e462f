package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Key is one configured key: a verification key, or a signing key.
type Key struct {
	ID     string
	Method jwt.SigningMethod
	verify any // []byte (HS256) or ed25519.PublicKey
	sign   any // []byte (HS256) or ed25519.PrivateKey; nil for verify-only keys
}

// CanSign reports whether the key can mint tokens.
func (k Key) CanSign() bool { return k.sign != nil }

// ParseKeys parses `kid=alg:base64[,kid=alg:base64...]`. For ed25519, 32 bytes
// of base64 are a public key unless private is true, when they are a seed.
func ParseKeys(spec string, private bool) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		kid, rest, ok := strings.Cut(entry, "=")
		alg, b64, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || kid == "" {
			return nil, fmt.Errorf("key entry must look like kid=alg:base64 (alg hs256 or ed25519)")
		}
		if seen[kid] {
			return nil, fmt.Errorf("key id %q is configured twice", kid)
		}
		seen[kid] = true
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			raw, err = base64.RawURLEncoding.DecodeString(b64)
		}
		if err != nil {
			return nil, fmt.Errorf("key %q: material is not base64", kid)
		}
		switch strings.ToLower(alg) {
		case "hs256":
			if len(raw) < 32 {
				return nil, fmt.Errorf("key %q: hs256 secrets must be at least 32 bytes, got %d", kid, len(raw))
			}
			keys = append(keys, Key{ID: kid, Method: jwt.SigningMethodHS256, verify: raw, sign: raw})
		case "ed25519":
			if len(raw) != 32 {
				return nil, fmt.Errorf("key %q: ed25519 keys are 32 bytes, got %d", kid, len(raw))
			}
			if private {
				priv := ed25519.NewKeyFromSeed(raw)
				keys = append(keys, Key{ID: kid, Method: jwt.SigningMethodEdDSA, verify: priv.Public(), sign: priv})
			} else {
				keys = append(keys, Key{ID: kid, Method: jwt.SigningMethodEdDSA, verify: ed25519.PublicKey(raw)})
			}
		default:
			return nil, fmt.Errorf("key %q: unknown algorithm %q (want hs256 or ed25519)", kid, alg)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no keys configured")
	}
	return keys, nil
}
