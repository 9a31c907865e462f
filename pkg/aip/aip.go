package aip

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"slices"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sightline/sightline/pkg/apierr"
)

// PageSize validates page_size: 0 means def, above max is clamped to max (AIP-158), negative is invalid.
func PageSize(n, def, max int32) (int, error) {
	switch {
	case n < 0:
		return 0, apierr.InvalidArgument(apierr.Field("page_size", "must not be negative"))
	case n == 0:
		return int(def), nil
	case n > max:
		return int(max), nil
	}
	return int(n), nil
}

const maxCursorKeys = 8

// EncodePageToken returns the token for the page after cursor, bound to request (a
// string naming the request's filters, e.g. "items/user=5/type=1").
func EncodePageToken(request string, cursor ...int64) string {
	buf := make([]byte, 0, 8+1+len(cursor)*binary.MaxVarintLen64+4)
	fp := sha256.Sum256([]byte(request))
	buf = append(buf, fp[:8]...)
	buf = append(buf, byte(len(cursor)))
	for _, c := range cursor {
		buf = binary.AppendVarint(buf, c)
	}
	buf = binary.BigEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf))
	return base64.RawURLEncoding.EncodeToString(buf)
}

// DecodePageToken returns the cursor of token, which must have been issued for
// request with exactly n keys. An empty token is the first page (nil cursor).
func DecodePageToken(token, request string, n int) ([]int64, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > 256 {
		return nil, apierr.InvalidPageToken()
	}
	buf, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(buf) < 8+1+4 {
		return nil, apierr.InvalidPageToken()
	}
	body, sum := buf[:len(buf)-4], binary.BigEndian.Uint32(buf[len(buf)-4:])
	fp := sha256.Sum256([]byte(request))
	if crc32.ChecksumIEEE(body) != sum || string(body[:8]) != string(fp[:8]) {
		return nil, apierr.InvalidPageToken()
	}
	count := int(body[8])
	if count != n || count > maxCursorKeys {
		return nil, apierr.InvalidPageToken()
	}
	rest := body[9:]
	cursor := make([]int64, 0, count)
	for range count {
		v, k := binary.Varint(rest)
		if k <= 0 {
			return nil, apierr.InvalidPageToken()
		}
		cursor = append(cursor, v)
		rest = rest[k:]
	}
	if len(rest) != 0 {
		return nil, apierr.InvalidPageToken()
	}
	return cursor, nil
}

// MaskPaths validates an update mask against the allowed paths and returns
// the set to update. An empty or absent mask means every allowed path.
func MaskPaths(mask *fieldmaskpb.FieldMask, allowed ...string) (map[string]bool, error) {
	out := make(map[string]bool, len(allowed))
	if len(mask.GetPaths()) == 0 {
		for _, p := range allowed {
			out[p] = true
		}
		return out, nil
	}
	for _, p := range mask.GetPaths() {
		if !slices.Contains(allowed, p) {
			return nil, apierr.InvalidArgument(apierr.Field("update_mask", "unknown path %q (allowed: %v)", p, allowed))
		}
		out[p] = true
	}
	return out, nil
}
