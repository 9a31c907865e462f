package mime

import (
	"bytes"
	"io"
	stdmime "mime"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// splitHeader separates the header block from the body, leniently:
//
//   - the header ends at the first empty line (LF or CRLF endings, mixed
//     allowed); sep reports whether there was one;
//   - a line that is neither "name: value" (name of printable ASCII without
//     ':') nor a continuation of a kept field is dropped when a separator
//     follows (mbox "From " lines, stray garbage); without a separator it is
//     taken as the first body line;
//   - a leading UTF-8 byte-order mark is ignored.
//
// The returned header block holds only the kept lines, CRLF-terminated and
// followed by an empty line, ready for textproto.ReadHeader.
func splitHeader(raw []byte) (hdr, body []byte, fields int, sep bool) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	sepIdx := separatorIndex(raw)
	var out bytes.Buffer
	inField := false
	pos := 0
	for pos < len(raw) {
		end := bytes.IndexByte(raw[pos:], '\n')
		next := len(raw)
		if end >= 0 {
			end += pos
			next = end + 1
		} else {
			end = len(raw)
		}
		line := raw[pos:end]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			body = raw[next:]
			sep = true
			break
		}
		switch {
		case line[0] == ' ' || line[0] == '\t':
			if inField {
				out.WriteString("\r\n")
				out.Write(line)
			}
		case isHeaderLine(line):
			if out.Len() > 0 {
				out.WriteString("\r\n")
			}
			out.Write(line)
			fields++
			inField = true
		default:
			if sepIdx < 0 {
				body = raw[pos:]
				pos = len(raw)
				continue
			}
			inField = false
		}
		pos = next
	}
	if out.Len() > 0 {
		out.WriteString("\r\n")
	}
	out.WriteString("\r\n")
	return out.Bytes(), body, fields, sep
}

// separatorIndex returns the offset of the first empty line, or -1.
func separatorIndex(raw []byte) int {
	if bytes.HasPrefix(raw, []byte("\n")) || bytes.HasPrefix(raw, []byte("\r\n")) {
		return 0
	}
	i := bytes.Index(raw, []byte("\n\n"))
	j := bytes.Index(raw, []byte("\n\r\n"))
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	case i < j:
		return i
	default:
		return j
	}
}

func isHeaderLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	key := bytes.TrimRight(line[:i], " \t")
	if len(key) == 0 {
		return false
	}
	for _, c := range key {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// cleanString returns s as valid UTF-8 (invalid sequences become U+FFFD)
// without NUL bytes.
func cleanString(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

// collapseSpace trims s and replaces each run of Unicode white space by one
// ASCII space.
func collapseSpace(s string) string {
	if s == "" {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// lenientCharsetReader converts from charset to UTF-8 with go-message's
// charset package and, for a charset it does not know, returns the bytes
// unchanged (they are made valid UTF-8 later) instead of failing.
func lenientCharsetReader(cs string, input io.Reader) (io.Reader, error) {
	r, err := charset.Reader(cs, input)
	if err != nil || r == nil {
		return input, nil
	}
	return r, nil
}

var wordDecoder = &stdmime.WordDecoder{CharsetReader: lenientCharsetReader}

// fixHeaderBytes turns a raw header value that is not valid UTF-8 (8-bit
// header) into UTF-8: decoded with the message's top-level charset when that
// is known and not UTF-8, else with invalid sequences replaced by U+FFFD.
func fixHeaderBytes(v, fallbackCharset string) string {
	if utf8.ValidString(v) {
		return v
	}
	if cs := normalizeCharset(fallbackCharset); cs != "" && !passThroughCharset(cs) {
		if r, err := charset.Reader(cs, strings.NewReader(v)); err == nil && r != nil {
			if b, err := io.ReadAll(r); err == nil && utf8.Valid(b) {
				return string(b)
			}
		}
	}
	return strings.ToValidUTF8(v, "\uFFFD")
}

// decodeHeaderText decodes an unstructured header value (RFC 2047
// encoded-words, 8-bit bytes). It never fails: undecodable parts stay as
// they are.
func decodeHeaderText(v, fallbackCharset string) string {
	v = fixHeaderBytes(v, fallbackCharset)
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// parseAddressList parses an address header value. A list that net/mail
// rejects as a whole is split at top-level commas and semicolons and each
// piece is parsed alone; pieces that still fail are salvaged when they hold
// something that looks like an addr-spec. Duplicate emails keep their first
// occurrence.
func parseAddressList(v, fallbackCharset string) []Address {
	v = fixHeaderBytes(v, fallbackCharset)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	p := netmail.AddressParser{WordDecoder: wordDecoder}
	var out []Address
	seen := map[string]bool{}
	add := func(name, email string) {
		email = strings.ToLower(strings.TrimSpace(email))
		if email == "" || seen[email] {
			return
		}
		seen[email] = true
		name = collapseSpace(name)
		out = append(out, Address{Name: name, Email: email})
	}
	if list, err := p.ParseList(v); err == nil {
		for _, a := range list {
			add(a.Name, a.Address)
		}
		return out
	}
	for _, piece := range splitAddressList(v) {
		if strings.TrimSpace(piece) == "" {
			continue
		}
		if list, err := p.ParseList(piece); err == nil {
			for _, a := range list {
				add(a.Name, a.Address)
			}
			continue
		}
		if name, email, ok := salvageAddress(piece); ok {
			add(name, email)
		}
	}
	return out
}

// splitAddressList splits at ',' and ';' that are outside quoted strings,
// comments, angle brackets and domain literals.
func splitAddressList(v string) []string {
	var parts []string
	start, depthParen, inAngle, inQuote, inLiteral := 0, 0, false, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '\\':
			i++
		case c == '"':
			inQuote = true
		case c == '(':
			depthParen++
		case c == ')':
			if depthParen > 0 {
				depthParen--
			}
		case depthParen > 0:
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == '[':
			inLiteral = true
		case c == ']':
			inLiteral = false
		case (c == ',' || c == ';') && !inAngle && !inLiteral:
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	if start <= len(v) {
		parts = append(parts, v[start:])
	}
	return parts
}

// salvageAddress extracts "Name <addr>" or a bare addr-spec from a piece
// net/mail rejected.
func salvageAddress(piece string) (name, email string, ok bool) {
	if lt := strings.LastIndexByte(piece, '<'); lt >= 0 {
		rest := piece[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			rest = rest[:gt]
		}
		if looksLikeEmail(strings.TrimSpace(rest)) {
			name = strings.TrimSpace(piece[:lt])
			name = strings.Trim(name, "\"' \t")
			if d, err := wordDecoder.DecodeHeader(name); err == nil {
				name = d
			}
			return name, strings.TrimSpace(rest), true
		}
	}
	for _, tok := range strings.FieldsFunc(piece, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("<>\"'(),;:[]", r)
	}) {
		if looksLikeEmail(tok) {
			return "", tok, true
		}
	}
	return "", "", false
}

// looksLikeEmail is a loose addr-spec check for salvaged addresses: one '@'
// with something on both sides, no white space or control characters, and
// a plausible length.
func looksLikeEmail(s string) bool {
	if len(s) < 3 || len(s) > 320 || !utf8.ValidString(s) {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == ',' || r == '"' {
			return false
		}
	}
	return true
}

// extraDateLayouts are tried when net/mail.ParseDate fails.
var extraDateLayouts = []string{
	time.RFC1123Z,
	time.RFC1123,
	time.RFC850,
	time.ANSIC,
	time.UnixDate,
	time.RFC3339,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006 15:04:05 -0700 MST",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
}

// parseDate parses a Date header; zero when missing or unparseable.
func parseDate(v string) time.Time {
	v = collapseSpace(v)
	if v == "" || !utf8.ValidString(v) {
		return time.Time{}
	}
	if t, err := netmail.ParseDate(v); err == nil {
		return t
	}
	// Drop a trailing comment such as "(CET)" or "(GMT+01:00)".
	s := v
	if i := strings.IndexByte(s, '('); i > 0 {
		s = strings.TrimSpace(s[:i])
	}
	if t, err := netmail.ParseDate(s); err == nil {
		return t
	}
	for _, l := range extraDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// maxMessageIDLen bounds a Message-ID (RFC 5322 line length), which also
// keeps it well inside a PostgreSQL btree index entry.
const maxMessageIDLen = 998

// NormalizeMessageID returns the message id in s without angle brackets and
// surrounding white space, or "" when it is not a plausible msg-id: no '@',
// white space or control characters inside, invalid UTF-8, a stray '<' or
// '>', an empty local or domain part, or longer than 998 bytes. When s holds
// an angle-bracketed id followed or preceded by other text (comments, as
// some mailers write), the bracketed id is taken.
func NormalizeMessageID(s string) string {
	s = strings.TrimSpace(s)
	if lt := strings.IndexByte(s, '<'); lt >= 0 {
		rest := s[lt+1:]
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			rest = rest[:gt]
		}
		s = strings.TrimSpace(rest)
	}
	if s == "" || len(s) > maxMessageIDLen || !utf8.ValidString(s) {
		return ""
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return ""
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == utf8.RuneError {
			return ""
		}
	}
	return s
}

// ParseMessageIDList parses an In-Reply-To or References value into ids
// without brackets, in order, de-duplicated (first occurrence kept), dropping
// bogus ones. Angle-bracketed ids are taken from anywhere in s (so comments
// and "Your message of ..." phrases are ignored); when s has no '<' at all,
// white-space or comma separated tokens containing '@' are taken as bare ids.
func ParseMessageIDList(s string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		id = NormalizeMessageID(id)
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		out = append(out, id)
	}
	if strings.IndexByte(s, '<') < 0 {
		for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == ',' }) {
			add(tok)
		}
		return out
	}
	for {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			break
		}
		s = s[lt+1:]
		gt := strings.IndexByte(s, '>')
		if gt < 0 {
			// Unterminated last id (truncated header): take it if sane.
			add(s)
			break
		}
		id := s[:gt]
		s = s[gt+1:]
		// A '<' inside means the previous one was unterminated; restart there.
		if i := strings.LastIndexByte(id, '<'); i >= 0 {
			id = id[i+1:]
		}
		add(id)
	}
	return out
}

func normalizeCharset(cs string) string {
	cs = strings.ToLower(strings.TrimSpace(cs))
	cs = strings.Trim(cs, "\"' ")
	return cs
}

func passThroughCharset(cs string) bool {
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "unicode-1-1-utf-8", "x-unknown", "unknown-8bit":
		return true
	}
	return false
}
