package aip

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func TestPageTokenRoundTrip(t *testing.T) {
	for _, cursor := range [][]int64{{0}, {1, -5}, {1 << 62, 7, -1 << 62}} {
		tok := EncodePageToken("req", cursor...)
		got, err := DecodePageToken(tok, "req", len(cursor))
		if err != nil {
			t.Fatalf("decode %v: %v", cursor, err)
		}
		if len(got) != len(cursor) {
			t.Fatalf("got %v want %v", got, cursor)
		}
		for i := range got {
			if got[i] != cursor[i] {
				t.Fatalf("got %v want %v", got, cursor)
			}
		}
	}
}

func TestPageTokenRejectsMisuse(t *testing.T) {
	tok := EncodePageToken("items/user=1", 42)
	flipped := []byte(tok)
	flipped[len(flipped)/2] ^= 1
	cases := map[string]struct {
		token, request string
		n              int
	}{
		"other request": {tok, "items/user=2", 1},
		"wrong arity":   {tok, "items/user=1", 2},
		"tampered":      {string(flipped), "items/user=1", 1},
		"truncated":     {tok[:len(tok)-2], "items/user=1", 1},
		"garbage":       {"not a token!", "items/user=1", 1},
		"too long":      {string(make([]byte, 300)), "items/user=1", 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodePageToken(c.token, c.request, c.n)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("code = %v, want InvalidArgument", status.Code(err))
			}
		})
	}
}

func TestPageSize(t *testing.T) {
	for _, c := range []struct {
		in   int32
		want int
		ok   bool
	}{{0, 100, true}, {5, 5, true}, {5000, 1000, true}, {-1, 0, false}} {
		got, err := PageSize(c.in, 100, 1000)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("PageSize(%d) = %d, %v", c.in, got, err)
		}
	}
}

func TestMaskPaths(t *testing.T) {
	all, err := MaskPaths(nil, "a", "b")
	if err != nil || !all["a"] || !all["b"] {
		t.Fatalf("empty mask = %v, %v", all, err)
	}
	one, err := MaskPaths(&fieldmaskpb.FieldMask{Paths: []string{"b"}}, "a", "b")
	if err != nil || one["a"] || !one["b"] {
		t.Fatalf("mask b = %v, %v", one, err)
	}
	if _, err := MaskPaths(&fieldmaskpb.FieldMask{Paths: []string{"c"}}, "a", "b"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown path: %v", err)
	}
}

func FuzzDecodePageToken(f *testing.F) {
	f.Add(EncodePageToken("r", 1, 2), "r", 2)
	f.Add("", "r", 1)
	f.Add("AAAA", "r", 0)
	f.Fuzz(func(t *testing.T, token, request string, n int) {
		cursor, err := DecodePageToken(token, request, n)
		if err == nil && token != "" && len(cursor) != n {
			t.Fatalf("accepted a token with %d keys for %d", len(cursor), n)
		}
		if err != nil && status.Code(err) != codes.InvalidArgument {
			t.Fatalf("code %v", status.Code(err))
		}
	})
}
