package server

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sightline/sightline/pkg/apierr"
)

// normalizeEmail returns the trimmed, lower-cased addr-spec, or ok=false
// when s is not a plausible bare email address.
func normalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 3 || len(s) > 254 || !utf8.ValidString(s) {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("<>(),;:\"[]\\", r) {
			return "", false
		}
	}
	return s, true
}

// normalizeEmails validates and de-duplicates a list of addresses (order kept).
func normalizeEmails(field string, in []string, max int) ([]string, []apierr.FieldViolation) {
	var vs []apierr.FieldViolation
	if len(in) > max {
		return nil, []apierr.FieldViolation{apierr.Field(field, "at most %d, got %d", max, len(in))}
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, e := range in {
		n, ok := normalizeEmail(e)
		if !ok {
			vs = append(vs, apierr.Field(field+"["+itoa(int64(i))+"]", "not an email address"))
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, vs
}

// text checks a free-text field: valid UTF-8, no NUL, at most max bytes.
func text(field, s string, max int) []apierr.FieldViolation {
	switch {
	case len(s) > max:
		return []apierr.FieldViolation{apierr.Field(field, "at most %d bytes", max)}
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return []apierr.FieldViolation{apierr.Field(field, "must be valid UTF-8 without NUL")}
	}
	return nil
}

// hostname checks a server host name or address.
func hostname(field, s string) []apierr.FieldViolation {
	if s == "" {
		return []apierr.FieldViolation{apierr.Field(field, "required")}
	}
	if len(s) > 253 || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) {
		return []apierr.FieldViolation{apierr.Field(field, "not a host name")}
	}
	return nil
}
