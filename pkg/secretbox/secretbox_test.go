package secretbox_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/sightline/sightline/pkg/secretbox"
)

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func spec(kid string, k []byte) string { return kid + "=" + base64.StdEncoding.EncodeToString(k) }

func mustParse(t *testing.T, s string) *secretbox.Box {
	t.Helper()
	b, err := secretbox.ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := mustParse(t, spec("k1", key(t)))
	for _, pt := range []string{"", "hunter2", strings.Repeat("x", 10000), "ünïcødé 🔑"} {
		sealed, err := b.Seal([]byte(pt), []byte("company/1/user/2"))
		if err != nil {
			t.Fatal(err)
		}
		if pt != "" && bytes.Contains(sealed, []byte(pt)) {
			t.Fatal("sealed value contains the plaintext")
		}
		got, err := b.Open(sealed, []byte("company/1/user/2"))
		if err != nil || string(got) != pt {
			t.Fatalf("Open = %q, %v; want %q", got, err, pt)
		}
	}
	// Two seals of the same plaintext differ (random nonce).
	a, _ := b.Seal([]byte("same"), nil)
	c, _ := b.Seal([]byte("same"), nil)
	if bytes.Equal(a, c) {
		t.Fatal("two seals are identical")
	}
}

func TestOpenFailures(t *testing.T) {
	k1, k2 := key(t), key(t)
	b := mustParse(t, spec("k1", k1))
	sealed, err := b.Seal([]byte("hunter2"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		box    *secretbox.Box
		sealed []byte
		aad    string
		want   error
	}{
		{"wrong key material under the same id", mustParse(t, spec("k1", k2)), sealed, "aad", secretbox.ErrInvalid},
		{"unknown key id", mustParse(t, spec("k2", k2)), sealed, "aad", secretbox.ErrUnknownKey},
		{"other associated data", b, sealed, "other", secretbox.ErrInvalid},
		{"tampered ciphertext", b, flip(len(sealed) - 20), "aad", secretbox.ErrInvalid},
		{"tampered tag", b, flip(len(sealed) - 1), "aad", secretbox.ErrInvalid},
		{"tampered nonce", b, flip(2 + 2), "aad", secretbox.ErrInvalid},
		{"tampered version", b, flip(0), "aad", secretbox.ErrInvalid},
		{"truncated", b, sealed[:10], "aad", secretbox.ErrInvalid},
		{"empty", b, nil, "aad", secretbox.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.box.Open(tt.sealed, []byte(tt.aad))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatal("error contains the plaintext")
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := key(t), key(t)
	before := mustParse(t, spec("old", oldKey))
	sealedOld, err := before.Seal([]byte("s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The new key first: it seals; the old one still opens old values.
	after := mustParse(t, spec("new", newKey)+","+spec("old", oldKey))
	if got, err := after.Open(sealedOld, nil); err != nil || string(got) != "s3cret" {
		t.Fatalf("open old value after rotation = %q, %v", got, err)
	}
	if !after.NeedsResealing(sealedOld) {
		t.Fatal("an old value should need resealing")
	}
	sealedNew, err := after.Seal([]byte("s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := secretbox.KeyID(sealedNew); kid != "new" || after.SealingKeyID() != "new" {
		t.Fatalf("sealed with %q, want new", kid)
	}
	if after.NeedsResealing(sealedNew) {
		t.Fatal("a new value should not need resealing")
	}
	// Once the old key is dropped, old values no longer open.
	dropped := mustParse(t, spec("new", newKey))
	if _, err := dropped.Open(sealedOld, nil); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("open with the old key dropped: %v, want ErrUnknownKey", err)
	}
}

func TestParseKeys(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(key(t))
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name, spec string
		ok         bool
	}{
		{"one key", "k1=" + good, true},
		{"two keys with spaces", " k1=" + good + " , k2=" + good + " ", true},
		{"unpadded base64", "k1=" + strings.TrimRight(good, "="), true},
		{"empty", "", false},
		{"no equals", "k1" + good, false},
		{"empty kid", "=" + good, false},
		{"bad kid characters", "k 1=" + good, false},
		{"short key", "k1=" + short, false},
		{"not base64", "k1=!!!!", false},
		{"duplicate kid", "k1=" + good + ",k1=" + good, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secretbox.ParseKeys(tt.spec)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseKeys err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), good) {
				t.Fatal("error contains key material")
			}
		})
	}
}
