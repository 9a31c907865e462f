package mime

import (
	"io"
	stdmime "mime"
	"net/url"
	"sort"
	"strconv"
	"strings"

	message "github.com/emersion/go-message"
)

// contentType returns the lower-cased media type and parameters of an
// entity. A missing or unusable Content-Type (no '/') means text/plain
// (RFC 2045 section 5.2), keeping any charset parameter.
func contentType(h *message.Header) (string, map[string]string) {
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return "text/plain", map[string]string{}
	}
	mt, params := parseMediaParams(v)
	if !strings.Contains(mt, "/") {
		mt = "text/plain"
	}
	return mt, params
}

// contentDisposition returns the lower-cased disposition ("" when absent)
// and its parameters.
func contentDisposition(h *message.Header) (string, map[string]string) {
	v := h.Get("Content-Disposition")
	if strings.TrimSpace(v) == "" {
		return "", map[string]string{}
	}
	return parseMediaParams(v)
}

// parseMediaParams parses "type; k=v; ..." with the standard library and
// falls back to a lenient parser when that fails (duplicate or malformed
// parameters, which are common in the wild) or when the value uses RFC 2231
// extended parameters (the standard library only decodes those for utf-8
// and us-ascii, dropping e.g. iso-8859-1 filenames). Parameter values are
// RFC 2047-decoded (Outlook writes filename="=?utf-8?B?...?=").
func parseMediaParams(v string) (string, map[string]string) {
	v = fixHeaderBytes(v, "")
	var (
		mt     string
		params map[string]string
		err    error
	)
	if !strings.Contains(v, "*=") && !strings.Contains(v, "*0") {
		mt, params, err = stdmime.ParseMediaType(v)
	}
	if params == nil || err != nil {
		mt, params = lenientMediaParams(v)
	}
	for k, val := range params {
		if strings.Contains(val, "=?") {
			if d, err := wordDecoder.DecodeHeader(val); err == nil {
				params[k] = d
			}
		}
	}
	return strings.ToLower(strings.TrimSpace(mt)), params
}

type paramSegment struct {
	idx     int
	encoded bool
	value   string
}

// lenientMediaParams is a forgiving parser for MIME header parameters: it
// splits at ';' outside quotes, keeps the first value of a duplicate
// parameter, accepts unquoted values with any characters, and implements
// RFC 2231 (continuations, charset'lang'%XX values) for any charset known
// to go-message's charset package.
func lenientMediaParams(v string) (string, map[string]string) {
	pieces := splitParams(v)
	params := map[string]string{}
	mt := ""
	// The first piece is the type, unless it is already a parameter
	// ("Content-Disposition: filename=x.pdf", seen in the wild).
	if len(pieces) > 0 && !strings.Contains(pieces[0], "=") {
		mt = strings.TrimSpace(pieces[0])
		pieces = pieces[1:]
	}
	ext := map[string][]paramSegment{}
	for _, p := range pieces {
		eq := strings.IndexByte(p, '=')
		if eq <= 0 {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(p[:eq]))
		val := unquoteParam(strings.TrimSpace(p[eq+1:]))
		if key == "" {
			continue
		}
		if star := strings.IndexByte(key, '*'); star >= 0 {
			base, rest := key[:star], key[star+1:]
			encoded := strings.HasSuffix(rest, "*") || rest == ""
			rest = strings.TrimSuffix(rest, "*")
			idx := 0
			if rest != "" {
				n, err := strconv.Atoi(rest)
				if err != nil || n < 0 || n > 1000 {
					continue
				}
				idx = n
			}
			if base == "" {
				continue
			}
			ext[base] = append(ext[base], paramSegment{idx: idx, encoded: encoded, value: val})
			continue
		}
		if _, dup := params[key]; !dup {
			params[key] = val
		}
	}
	for base, segs := range ext {
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].idx < segs[j].idx })
		cs := ""
		var b strings.Builder
		for i, s := range segs {
			val := s.value
			if s.encoded {
				if i == 0 {
					// charset'language'value
					if parts := strings.SplitN(val, "'", 3); len(parts) == 3 {
						cs = parts[0]
						val = parts[2]
					}
				}
				if u, err := url.PathUnescape(val); err == nil {
					val = u
				}
			}
			b.WriteString(val)
		}
		val := b.String()
		if cs := normalizeCharset(cs); cs != "" && !passThroughCharset(cs) {
			if r, err := lenientCharsetReader(cs, strings.NewReader(val)); err == nil {
				if d, err := io.ReadAll(r); err == nil {
					val = string(d)
				}
			}
		}
		// An extended value wins over a plain one of the same name
		// (RFC 2231 section 4: it is the better representation).
		params[base] = val
	}
	return mt, params
}

// splitParams splits at ';' outside double quotes.
func splitParams(v string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

func unquoteParam(s string) string {
	if len(s) >= 1 && s[0] == '"' {
		s = s[1:]
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
				continue
			}
			if c == '"' {
				break
			}
			b.WriteByte(c)
		}
		return b.String()
	}
	return s
}
