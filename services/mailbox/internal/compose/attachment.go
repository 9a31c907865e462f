package compose

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"

	message "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/sightline/sightline/services/mailbox/internal/mime"
)

// Attachment is one attachment part to re-attach to a forward.
type Attachment struct {
	Filename    string // decoded; "" when the part has none
	ContentType string // lower-case media type, e.g. "application/pdf"
	ContentID   string // with its angle brackets, as in the original; "" when none
	Data        []byte // decoded from its transfer encoding, byte for byte

	params map[string]string // Content-Type parameters (charset, name, ...)
}

// partHeader is the attachment's header in the new message: its media type
// and parameters, "attachment" with its file name, its Content-ID; base64.
func (a Attachment) partHeader() message.Header {
	var h message.Header
	ct := a.ContentType
	if ct == "" || strings.HasPrefix(ct, "multipart/") {
		ct = "application/octet-stream"
	}
	params := map[string]string{}
	for k, v := range a.params {
		if k != "boundary" {
			params[k] = oneLine(v)
		}
	}
	if a.Filename != "" {
		params["name"] = oneLine(a.Filename)
	}
	h.SetContentType(ct, params)
	disp := map[string]string{}
	if a.Filename != "" {
		disp["filename"] = oneLine(a.Filename)
	}
	h.SetContentDisposition("attachment", disp)
	if id := oneLine(a.ContentID); id != "" {
		h.Set("Content-Id", id)
	}
	h.Set("Content-Transfer-Encoding", "base64")
	return h
}

// Limits of ExtractAttachments: the MIME parser's defaults.
const (
	maxParts = mime.DefaultMaxParts
	maxDepth = mime.DefaultMaxDepth
)

// ErrTooComplex: the message has more than maxParts parts or nests deeper than maxDepth.
var ErrTooComplex = errors.New("compose: message too complex")

// ExtractAttachments returns the attachment parts of a raw message, in
// document order: every leaf that is not a body, i.e. not a text/plain or
// text/html part without "attachment" disposition and file name (the rule
// of internal/mime). message/rfc822 parts are attachments and are not
// looked into. A multipart structure that cannot be read is an error, so
// that a forward never silently loses an attachment.
func ExtractAttachments(raw []byte) ([]Attachment, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	th, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, fmt.Errorf("compose: reading the header: %w", err)
	}
	w := &walker{}
	if err := w.walk(message.Header{Header: th}, br, 0); err != nil {
		return nil, err
	}
	return w.out, nil
}

type walker struct {
	parts int
	out   []Attachment
}

func (w *walker) walk(h message.Header, body io.Reader, depth int) error {
	w.parts++
	if w.parts > maxParts || depth > maxDepth {
		return ErrTooComplex
	}
	mt, params, err := h.ContentType()
	if err != nil {
		mt, params = "application/octet-stream", nil
	}
	mt = strings.ToLower(mt)
	if strings.HasPrefix(mt, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("compose: %s part without boundary", mt)
		}
		mr := textproto.NewMultipartReader(body, boundary)
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("compose: reading a %s part: %w", mt, err)
			}
			if err := w.walk(message.Header{Header: p.Header}, p, depth+1); err != nil {
				return err
			}
		}
	}
	ah := mail.AttachmentHeader{Header: h}
	filename, _ := ah.Filename()
	filename = oneLine(filename)
	disp, _, _ := h.ContentDisposition()
	if (mt == "text/plain" || mt == "text/html") && !strings.EqualFold(disp, "attachment") && filename == "" {
		return nil // a body
	}
	data, err := decode(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return fmt.Errorf("compose: decoding attachment %q: %w", filename, err)
	}
	w.out = append(w.out, Attachment{Filename: filename, ContentType: mt, ContentID: h.Get("Content-Id"),
		Data: data, params: params})
	return nil
}

// decode undoes a Content-Transfer-Encoding; unknown encodings pass through.
func decode(enc string, r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' {
				return r
			}
			return -1
		}, raw)
		if len(clean)%4 == 1 { // a stray last character cannot encode a byte
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.RawStdEncoding.Decode(out, clean)
		if err != nil {
			return nil, err
		}
		return out[:n], nil
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	}
	return raw, nil
}
