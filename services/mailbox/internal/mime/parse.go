package mime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	message "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Sentinel errors returned (wrapped) by Parse. Test with errors.Is.
var (
	// ErrEmpty: the input is empty or only whitespace.
	ErrEmpty = errors.New("mime: empty message")
	// ErrTooLarge: the input is larger than Options.MaxSize.
	ErrTooLarge = errors.New("mime: message too large")
	// ErrMalformed: the input has no parseable header field and no
	// header/body separator, so it is not a message at all.
	ErrMalformed = errors.New("mime: malformed message")
	// ErrTooComplex: the MIME tree has more than Options.MaxParts parts or
	// is nested deeper than Options.MaxDepth.
	ErrTooComplex = errors.New("mime: message too complex")
)

// Defaults used for zero (or negative) Options fields.
const (
	DefaultMaxSize  int64 = 25 << 20 // 25 MiB
	DefaultMaxParts       = 500
	DefaultMaxDepth       = 20

	// SnippetMaxRunes is the maximum length of Message.Snippet in runes,
	// including the trailing ellipsis when the text was cut.
	SnippetMaxRunes = 225
)

// Options bound the work Parse does on one message.
type Options struct {
	MaxSize  int64 // maximum len(raw); default DefaultMaxSize
	MaxParts int   // maximum MIME entities (root and multipart containers included); default DefaultMaxParts
	MaxDepth int   // maximum multipart nesting (the root is depth 0); default DefaultMaxDepth
}

func (o Options) withDefaults() Options {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxParts <= 0 {
		o.MaxParts = DefaultMaxParts
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// Address is one mailbox of an address header.
type Address struct {
	Name  string // display name, RFC 2047-decoded, whitespace-collapsed; may be ""
	Email string // addr-spec, trimmed and lower-cased (whole address)
}

// Attachment describes a non-body MIME leaf part. The content itself is not
// kept: the caller fetches it again by part when a user downloads it.
type Attachment struct {
	Filename    string // from Content-Disposition filename, else Content-Type name (RFC 2231/2047 decoded, directory part removed); message/rfc822 parts without one get "<subject>.eml"
	ContentType string // lower-cased media type without parameters, e.g. "application/pdf"
	ContentID   string // Content-ID without angle brackets; "" when absent
	Size        int64  // size after transfer decoding (base64/quoted-printable), in bytes
	Inline      bool   // Content-Disposition: inline, or no disposition but a Content-ID
}

// Message is the decoded form of one raw message.
type Message struct {
	MessageID  string   // without angle brackets; "" when missing or syntactically bogus
	InReplyTo  []string // ids without brackets, in order, de-duplicated
	References []string // ids without brackets, in order, de-duplicated (first occurrence kept)
	Subject    string   // RFC 2047-decoded, whitespace-collapsed

	From    []Address
	Sender  *Address
	ReplyTo []Address
	To      []Address
	Cc      []Address
	Bcc     []Address

	// Date from the Date header; zero when missing or unparseable (the
	// caller substitutes the arrival time).
	Date time.Time

	// Text is the text/plain body and HTML the text/html body, decoded to
	// UTF-8 with CRLF line endings turned into LF. A text/plain or
	// text/html part is a body part unless its disposition is "attachment"
	// or it has a file name; body parts of one type are joined in document
	// order (blank-line separated), except that a multipart/alternative
	// contributes only its first non-blank part of each type.
	// message/rfc822 parts are attachments and are not looked into.
	Text string
	HTML string

	Attachments []Attachment

	// Snippet is at most SnippetMaxRunes runes of preview text; see
	// makeSnippet for the rules.
	Snippet string

	// ContentHash is the hex SHA-256 of the normalized content that
	// identifies the same message received twice; see contentHash for
	// exactly what goes in.
	ContentHash string

	// HasAttachments reports whether the message has an attachment a user
	// would call one: any attachment except inline parts whose Content-ID
	// is referenced (cid:) from the HTML body (embedded images, logos).
	HasAttachments bool

	Size int64 // len(raw)
}

// errPanic marks a recovered panic. It wraps ErrMalformed so callers see a
// sentinel; the fuzz test fails on it so panics are still found and fixed.
var errPanic = fmt.Errorf("%w: internal parser panic", ErrMalformed)

// Parse decodes one raw RFC 5322 message.
//
// It fails only for empty or whitespace-only input (ErrEmpty), input larger
// than opts.MaxSize (ErrTooLarge), input with neither a parseable header
// field nor a header/body separator (ErrMalformed), and a MIME tree with
// more than opts.MaxParts entities or nested deeper than opts.MaxDepth
// (ErrTooComplex); errors wrap these sentinels. Bad headers, bad address
// lists, unknown charsets or transfer encodings and truncated parts are
// decoded as well as possible instead. Every returned string is valid UTF-8
// without NUL bytes.
func Parse(raw []byte, opts Options) (msg *Message, err error) {
	opts = opts.withDefaults()
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: no bytes", ErrEmpty)
	}
	if int64(len(raw)) > opts.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(raw), opts.MaxSize)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: only whitespace", ErrEmpty)
	}

	// Last line of defence: one hostile message must not take down a sync
	// worker. The fuzz test treats errPanic as a failure.
	defer func() {
		if r := recover(); r != nil {
			msg = nil
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()

	hdr, body, fields, sep := splitHeader(raw)
	if fields == 0 && !sep {
		return nil, fmt.Errorf("%w: no header field and no header/body separator", ErrMalformed)
	}
	th, _ := textproto.ReadHeader(bufio.NewReaderSize(bytes.NewReader(hdr), min(len(hdr)+1, 4096)))
	h := message.Header{Header: th}

	m := &Message{Size: int64(len(raw))}
	_, topParams := contentType(&h)
	fallback := topParams["charset"]

	m.MessageID = NormalizeMessageID(firstValue(&h, "Message-Id"))
	m.InReplyTo = ParseMessageIDList(joinValues(&h, "In-Reply-To", " "))
	m.References = ParseMessageIDList(joinValues(&h, "References", " "))
	m.Subject = collapseSpace(decodeHeaderText(h.Get("Subject"), fallback))

	m.From = parseAddressList(joinValues(&h, "From", ", "), fallback)
	if s := parseAddressList(firstValue(&h, "Sender"), fallback); len(s) > 0 {
		m.Sender = &s[0]
	}
	m.ReplyTo = parseAddressList(joinValues(&h, "Reply-To", ", "), fallback)
	m.To = parseAddressList(joinValues(&h, "To", ", "), fallback)
	m.Cc = parseAddressList(joinValues(&h, "Cc", ", "), fallback)
	m.Bcc = parseAddressList(joinValues(&h, "Bcc", ", "), fallback)
	m.Date = parseDate(h.Get("Date"))

	w := walker{opts: opts}
	if err := w.walk(h, bytes.NewReader(body), 0); err != nil {
		return nil, err
	}
	m.Text = strings.ReplaceAll(w.text, "\r\n", "\n")
	m.HTML = strings.ReplaceAll(w.html, "\r\n", "\n")
	m.Attachments = w.atts

	m.sanitize()
	m.HasAttachments = hasRealAttachments(m.Attachments, m.HTML)
	m.Snippet = makeSnippet(m.Text, m.HTML)
	m.ContentHash = contentHash(m)
	return m, nil
}

// firstValue returns the first occurrence of a header field (e.g. the first
// of duplicate Message-ID headers).
func firstValue(h *message.Header, key string) string {
	return h.Get(key)
}

// joinValues joins every occurrence of a header field, in order.
func joinValues(h *message.Header, key, sep string) string {
	vs := h.Values(key)
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	var b bytes.Buffer
	for i, v := range vs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(v)
	}
	return b.String()
}

// sanitize makes every string valid UTF-8 without NUL bytes.
func (m *Message) sanitize() {
	m.MessageID = cleanString(m.MessageID)
	cleanList(m.InReplyTo)
	cleanList(m.References)
	m.Subject = cleanString(m.Subject)
	for _, l := range [][]Address{m.From, m.ReplyTo, m.To, m.Cc, m.Bcc} {
		for i := range l {
			l[i].Name = cleanString(l[i].Name)
			l[i].Email = cleanString(l[i].Email)
		}
	}
	if m.Sender != nil {
		m.Sender.Name = cleanString(m.Sender.Name)
		m.Sender.Email = cleanString(m.Sender.Email)
	}
	m.Text = cleanString(m.Text)
	m.HTML = cleanString(m.HTML)
	for i := range m.Attachments {
		a := &m.Attachments[i]
		a.Filename = cleanString(a.Filename)
		a.ContentType = cleanString(a.ContentType)
		a.ContentID = cleanString(a.ContentID)
	}
}

func cleanList(l []string) {
	for i := range l {
		l[i] = cleanString(l[i])
	}
}
