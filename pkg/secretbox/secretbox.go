package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

const (
	version   byte = 1
	nonceLen       = 12
	tagLen         = 16
	maxKIDLen      = 64
)

// Errors returned by Open (test with errors.Is).
var (
	// ErrUnknownKey: the value was sealed with a key id the Box does not have.
	ErrUnknownKey = errors.New("secretbox: sealed with an unknown key")
	// ErrInvalid: the value is not a sealed value, or it fails authentication
	// (tampered with, wrong key material, or other associated data).
	ErrInvalid = errors.New("secretbox: invalid or tampered sealed value")
)

// Key is one named 32-byte key.
type Key struct {
	ID       string
	Material []byte
}

// Box seals with its first key and opens with any of its keys.
type Box struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// New returns a Box over keys; the first one seals. Key ids must be unique,
// 1–64 characters of [A-Za-z0-9_.-], and every key exactly 32 bytes.
func New(keys ...Key) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	b := &Box{aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if !validKID(k.ID) {
			return nil, fmt.Errorf("key %d: id must be 1-%d characters of A-Z a-z 0-9 _ . -", i+1, maxKIDLen)
		}
		if _, dup := b.aeads[k.ID]; dup {
			return nil, fmt.Errorf("key %q: duplicate id", k.ID)
		}
		if len(k.Material) != KeySize {
			return nil, fmt.Errorf("key %q: must be %d bytes, got %d", k.ID, KeySize, len(k.Material))
		}
		block, err := aes.NewCipher(k.Material)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.ID, err)
		}
		b.ids = append(b.ids, k.ID)
		b.aeads[k.ID] = aead
	}
	return b, nil
}

// ParseKeys builds a Box from "kid=base64key,kid2=base64key2" (standard
// base64, padded or not, of exactly 32 bytes each). The first key seals.
// Errors name the key id, never the key.
func ParseKeys(spec string) (*Box, error) {
	var keys []Key
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kid, enc, ok := strings.Cut(part, "=")
		kid = strings.TrimSpace(kid)
		if !ok || kid == "" {
			return nil, fmt.Errorf("entry %d: want kid=base64(32 bytes)", i+1)
		}
		enc = strings.TrimSpace(enc)
		mat, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			mat, err = base64.RawStdEncoding.DecodeString(enc)
		}
		if err != nil {
			return nil, fmt.Errorf("key %q: not valid base64", kid)
		}
		keys = append(keys, Key{ID: kid, Material: mat})
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return New(keys...)
}

// SealingKeyID returns the id of the key Seal uses.
func (b *Box) SealingKeyID() string { return b.ids[0] }

// Seal encrypts plaintext with the first key. aad (associated data, e.g.
// the owner of the secret) is authenticated but not stored: Open must be
// given the same aad.
func (b *Box) Seal(plaintext, aad []byte) ([]byte, error) {
	kid := b.ids[0]
	aead := b.aeads[kid]
	out := make([]byte, 0, 2+len(kid)+nonceLen+len(plaintext)+tagLen)
	out = append(out, version, byte(len(kid)))
	out = append(out, kid...)
	header := len(out)
	out = out[:header+nonceLen]
	if _, err := rand.Read(out[header:]); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	nonce := out[header : header+nonceLen]
	return aead.Seal(out, nonce, plaintext, additional(out[:header], aad)), nil
}

// Open decrypts a value made by Seal with any key of the Box.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	kid, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := b.aeads[kid]
	if !ok {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, kid)
	}
	header := 2 + len(kid)
	if len(sealed) < header+nonceLen+tagLen {
		return nil, ErrInvalid
	}
	nonce := sealed[header : header+nonceLen]
	pt, err := aead.Open(nil, nonce, sealed[header+nonceLen:], additional(sealed[:header], aad))
	if err != nil {
		return nil, ErrInvalid
	}
	return pt, nil
}

// NeedsResealing reports whether sealed was made with another key than the
// one Seal uses now (after a rotation).
func (b *Box) NeedsResealing(sealed []byte) bool {
	kid, err := KeyID(sealed)
	return err != nil || kid != b.ids[0]
}

// KeyID returns the id of the key a value was sealed with.
func KeyID(sealed []byte) (string, error) {
	if len(sealed) < 2 || sealed[0] != version {
		return "", ErrInvalid
	}
	n := int(sealed[1])
	if n == 0 || n > maxKIDLen || len(sealed) < 2+n {
		return "", ErrInvalid
	}
	return string(sealed[2 : 2+n]), nil
}

// additional authenticates the header (version and key id) together with
// the caller's associated data.
func additional(header, aad []byte) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	return append(append(out, header...), aad...)
}

func validKID(s string) bool {
	if s == "" || len(s) > maxKIDLen {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
		default:
			return false
		}
	}
	return true
}
