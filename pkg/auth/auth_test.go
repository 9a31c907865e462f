package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/sightline/sightline/pkg/apierr"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
)

func hsSpec(t *testing.T, kid string) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return kid + "=hs256:" + base64.StdEncoding.EncodeToString(b)
}

func TestParseKeysRejectsBadSpecs(t *testing.T) {
	short := "k=hs256:" + base64.StdEncoding.EncodeToString([]byte("too short"))
	for name, spec := range map[string]string{
		"empty": "", "no alg": "k=abc", "bad base64": "k=hs256:***", "short secret": short,
		"unknown alg":   "k=rs256:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"duplicate kid": hsSpec(t, "k") + "," + hsSpec(t, "k"),
		"ed25519 size":  "k=ed25519:" + base64.StdEncoding.EncodeToString(make([]byte, 31)),
	} {
		if _, err := ParseKeys(spec, false); err == nil {
			t.Errorf("%s: accepted %q", name, spec)
		} else if strings.Contains(err.Error(), "hs256:") && len(spec) > 20 {
			t.Errorf("%s: error echoes the key material: %v", name, err)
		}
	}
}

func TestMintAndVerifyRoundTrip(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	edSign, err := ParseKeys("ed=ed25519:"+base64.StdEncoding.EncodeToString(seed), true)
	if err != nil {
		t.Fatal(err)
	}
	edVerify, err := ParseKeys("ed=ed25519:"+base64.StdEncoding.EncodeToString(pub), false)
	if err != nil {
		t.Fatal(err)
	}
	if edVerify[0].CanSign() {
		t.Fatal("a public key must not sign")
	}
	hs, err := ParseKeys(hsSpec(t, "hs"), true)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(append(hs, edVerify...))
	for _, key := range []Key{hs[0], edSign[0]} {
		for _, p := range []Principal{
			{Kind: KindUser, CompanyID: 5, UserID: 9},
			{Kind: KindService, CompanyID: 5, Service: "crm"},
		} {
			tok, err := Mint(key, p, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("%s %v: %v", key.ID, p, err)
			}
			if got.Kind != p.Kind || got.CompanyID != p.CompanyID || got.UserID != p.UserID || got.Service != p.Service {
				t.Fatalf("got %v want %v", got, p)
			}
		}
	}
	if _, err := Mint(edVerify[0], Principal{Kind: KindUser, CompanyID: 1, UserID: 1}, time.Minute); err == nil {
		t.Fatal("minted with a verify-only key")
	}
}

func TestVerifyRefusesTamperedAndCrossAlgorithmTokens(t *testing.T) {
	hs, _ := ParseKeys(hsSpec(t, "hs"), true)
	v := NewVerifier(hs)
	tok, _ := Mint(hs[0], Principal{Kind: KindUser, CompanyID: 1, UserID: 2}, time.Minute)
	parts := strings.Split(tok, ".")
	// Claim another user with the original signature.
	other, _ := Mint(hs[0], Principal{Kind: KindUser, CompanyID: 1, UserID: 3}, time.Minute)
	forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
	// alg "none".
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"hs","typ":"JWT"}`)) + "." + parts[1] + "."
	for name, bad := range map[string]string{"forged claims": forged, "alg none": none, "truncated": tok[:len(tok)-3]} {
		if _, err := v.Verify(bad); apierr.Reason(err) != "" && apierr.Reason(err) != commonv1.ErrorReason_ERROR_REASON_TOKEN_INVALID.String() || err == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCachedVerificationStillExpires(t *testing.T) {
	hs, _ := ParseKeys(hsSpec(t, "hs"), true)
	v := NewVerifier(hs)
	// exp is leeway-3s in the past, truncated to whole seconds: the token is
	// valid for more than 2s and at most 3s from its minting.
	tok, _ := Mint(hs[0], Principal{Kind: KindUser, CompanyID: 1, UserID: 2}, -leeway+3*time.Second)
	minted := time.Now()
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("after %v: %v", time.Since(minted), err)
	}
	if _, ok := v.cache[tok]; !ok {
		t.Fatal("a verified token is not cached")
	}
	time.Sleep(time.Until(minted.Add(3*time.Second + 100*time.Millisecond))) // past exp+leeway
	if _, err := v.Verify(tok); apierr.Reason(err) != commonv1.ErrorReason_ERROR_REASON_TOKEN_EXPIRED.String() {
		t.Fatalf("a cached token outlived its expiry: %v", err)
	}
}
