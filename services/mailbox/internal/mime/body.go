package mime

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	message "github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
)

// walker visits the MIME tree depth-first, collecting the body texts and the
// attachment metadata.
type walker struct {
	opts  Options
	parts int

	text, html string
	atts       []Attachment
}

// altState tracks, for the nearest multipart/alternative ancestor, which
// body types already contributed: an alternative gives at most one text/plain
// and one text/html body (the first of each).
type altState struct {
	usedText, usedHTML bool
}

func (w *walker) walk(h message.Header, body io.Reader, depth int) error {
	return w.walkAlt(h, body, depth, nil)
}

// walkAlt implements the body rules:
//
//   - multipart/* is recursed into (multipart/alternative starts a new
//     altState); a multipart without boundary is read as text/plain;
//   - a text/plain or text/html leaf is a body part unless its disposition
//     is "attachment" or it has a file name (the root entity is a body part
//     even with a name). Body parts of one type are concatenated in
//     document order, blank line separated, except that each
//     multipart/alternative contributes only its first non-blank part of
//     each type;
//   - every other leaf (message/rfc822 and other message/* included: they
//     are not recursed into) is an attachment.
//
// Read errors inside a part (truncated base64, missing closing boundary)
// keep what was read; they never fail the message.
func (w *walker) walkAlt(h message.Header, body io.Reader, depth int, alt *altState) error {
	w.parts++
	if w.parts > w.opts.MaxParts {
		return fmt.Errorf("%w: more than %d MIME parts", ErrTooComplex, w.opts.MaxParts)
	}
	if depth > w.opts.MaxDepth {
		return fmt.Errorf("%w: multipart nesting deeper than %d", ErrTooComplex, w.opts.MaxDepth)
	}
	mt, params := contentType(&h)
	if strings.HasPrefix(mt, "multipart/") {
		if boundary := params["boundary"]; boundary != "" {
			if mt == "multipart/alternative" {
				alt = &altState{}
			}
			mr := textproto.NewMultipartReader(body, boundary)
			for {
				p, err := mr.NextPart()
				if err != nil {
					// io.EOF, or a malformed/truncated multipart: keep
					// the parts read so far.
					return nil
				}
				if err := w.walkAlt(message.Header{Header: p.Header}, p, depth+1, alt); err != nil {
					return err
				}
			}
		}
		mt = "text/plain"
	}

	disp, dparams := contentDisposition(&h)
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	filename = cleanFilename(filename)
	dec := transferDecoder(h, body)

	isText := mt == "text/plain" || mt == "text/html"
	if isText && disp != "attachment" && (filename == "" || depth == 0) {
		data, _ := io.ReadAll(dec) // keep what was read on error
		s := decodeText(data, params["charset"], mt)
		if strings.TrimSpace(s) == "" {
			return nil
		}
		if mt == "text/plain" {
			if alt != nil && alt.usedText {
				return nil
			}
			w.text = appendBody(w.text, s)
			if alt != nil {
				alt.usedText = true
			}
		} else {
			if alt != nil && alt.usedHTML {
				return nil
			}
			w.html = appendBody(w.html, s)
			if alt != nil {
				alt.usedHTML = true
			}
		}
		return nil
	}

	cid := normalizeContentID(h.Get("Content-Id"))
	att := Attachment{
		Filename:    filename,
		ContentType: mt,
		ContentID:   cid,
		Inline:      disp == "inline" || (disp == "" && cid != ""),
	}
	cr := &countingReader{r: dec}
	if mt == "message/rfc822" || mt == "message/global" {
		br := bufio.NewReader(cr)
		if att.Filename == "" {
			inner, _ := textproto.ReadHeader(br)
			ih := message.Header{Header: inner}
			subj := cleanFilename(collapseSpace(decodeHeaderText(ih.Get("Subject"), "")))
			if subj == "" {
				subj = "message"
			}
			att.Filename = subj + ".eml"
		}
		_, _ = io.Copy(io.Discard, br)
	} else {
		_, _ = io.Copy(io.Discard, cr)
	}
	att.Size = cr.n
	w.atts = append(w.atts, att)
	return nil
}

func appendBody(cur, s string) string {
	if cur == "" {
		return s
	}
	return cur + "\n\n" + s
}

// transferDecoder undoes the Content-Transfer-Encoding with go-message. The
// Content-Type is removed from the copy handed to message.New so it does no
// charset conversion (done by decodeText for bodies only; attachment sizes
// are those of the transfer-decoded bytes). An unknown encoding yields the
// raw bytes.
func transferDecoder(h message.Header, body io.Reader) io.Reader {
	hc := h.Copy()
	hc.Del("Content-Type")
	e, _ := message.New(hc, body)
	if e == nil || e.Body == nil {
		return body
	}
	return e.Body
}

// decodeText converts a body part to UTF-8 with go-message's charset
// package. An unknown charset, or a decoding failure, keeps the bytes as
// they are (invalid sequences are replaced later). A text/html part without
// a charset parameter whose bytes are not UTF-8 uses the charset of its
// <meta> tag, if any. A leading byte-order mark is removed.
func decodeText(data []byte, cs, mt string) string {
	cs = normalizeCharset(cs)
	if cs == "" && mt == "text/html" && !utf8.Valid(data) {
		cs = sniffHTMLCharset(data)
	}
	s := ""
	if passThroughCharset(cs) {
		s = string(data)
	} else if r, err := charset.Reader(cs, bytes.NewReader(data)); err != nil || r == nil {
		s = string(data)
	} else if out, err := io.ReadAll(r); err != nil && len(out) == 0 {
		s = string(data)
	} else {
		s = string(out)
	}
	return strings.TrimPrefix(s, "\uFEFF")
}

// sniffHTMLCharset finds charset=... in the first 2 KiB of an HTML part.
func sniffHTMLCharset(data []byte) string {
	if len(data) > 2048 {
		data = data[:2048]
	}
	l := bytes.ToLower(data)
	i := bytes.Index(l, []byte("charset="))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(l[i+len("charset="):], "\"' ")
	end := 0
	for end < len(rest) {
		c := rest[end]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':' {
			end++
			continue
		}
		break
	}
	return string(rest[:end])
}

// normalizeContentID strips white space and angle brackets.
func normalizeContentID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	s = strings.TrimSpace(s)
	if len(s) > maxMessageIDLen {
		return ""
	}
	return s
}

// maxFilenameBytes bounds attachment file names (common file system limit).
const maxFilenameBytes = 255

// cleanFilename keeps the last path component of a (decoded) file name,
// drops control characters, collapses white space and bounds the length to
// 255 bytes at a rune boundary. "." and ".." become "".
func cleanFilename(s string) string {
	if s == "" {
		return ""
	}
	s = cleanString(s)
	s = strings.ReplaceAll(s, "\\", "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	s = collapseSpace(s)
	if s == "." || s == ".." {
		return ""
	}
	if len(s) > maxFilenameBytes {
		cut := maxFilenameBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// hasRealAttachments: any attachment except inline parts whose Content-ID
// the HTML body references as cid:.
func hasRealAttachments(atts []Attachment, html string) bool {
	for _, a := range atts {
		if a.Inline && a.ContentID != "" && strings.Contains(html, "cid:"+a.ContentID) {
			continue
		}
		return true
	}
	return false
}
