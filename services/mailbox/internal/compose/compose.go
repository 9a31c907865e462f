package compose

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/sightline/sightline/services/mailbox/internal/threading"
)

// Mode is what is sent (the proto's SendMode).
type Mode int

const (
	// Reply goes to the original's Reply-To, else its From.
	Reply Mode = 1
	// ReplyAll adds every other To and Cc address of the original, except the sender's own.
	ReplyAll Mode = 2
	// Forward goes to the given recipients only, with the original's attachments.
	Forward Mode = 3
)

// Address is one mailbox.
type Address struct {
	Name  string
	Email string
}

// String is the address as shown in quoted and forwarded text (not encoded).
func (a Address) String() string {
	if a.Name == "" {
		return a.Email
	}
	return a.Name + " <" + a.Email + ">"
}

// Original is the message replied to or forwarded, as stored.
type Original struct {
	MessageID  string // without angle brackets; "" when it had none
	References []string
	Subject    string
	From       []Address
	ReplyTo    []Address
	To, Cc     []Address
	Date       time.Time
	Text       string // the plain text body, quoted or forwarded
}

// Draft is what the user sends.
type Draft struct {
	Mode Mode
	From Address // the sending account
	// Own are the sender's addresses (lower-case); they never receive a
	// computed reply.
	Own []string
	// To and Cc are added recipients (bare, lower-case addresses): all the
	// recipients of a forward.
	To, Cc []string
	Text   string
	Date   time.Time
	// Attachments re-attached to a forward (see ExtractAttachments).
	Attachments []Attachment
}

// Message is a composed message.
type Message struct {
	Raw       []byte
	MessageID string // without angle brackets
	To, Cc    []Address
}

// Recipients are the envelope recipients: To then Cc, without duplicates.
func (m *Message) Recipients() []string {
	out := make([]string, 0, len(m.To)+len(m.Cc))
	for _, l := range [][]Address{m.To, m.Cc} {
		for _, a := range l {
			if !slices.Contains(out, a.Email) {
				out = append(out, a.Email)
			}
		}
	}
	return out
}

// ErrNoRecipients: the mode computed no recipient and none was added (a
// reply to a message without a sender, a forward without recipients).
var ErrNoRecipients = errors.New("compose: no recipients")

// maxReferences bounds the References header: the first id (the thread's
// root) and the most recent ones are kept, as RFC 5322 §3.6.4 suggests
// for long threads.
const maxReferences = 20

// Recipients computes a draft's To and Cc (M5 modes): a reply goes to the
// original's Reply-To, else its From; a reply to all also to the original's
// other To and Cc addresses; the sender's own addresses are left out of the
// computed ones. Replying to one's own message goes to its recipients, as
// mail clients do. Added recipients come last; an address appears once
// (To before Cc). An address with a control character is left out.
func Recipients(mode Mode, orig Original, own []string, addTo, addCc []string) (to, cc []Address) {
	isOwn := func(e string) bool { return slices.Contains(own, strings.ToLower(e)) }
	seen := map[string]bool{}
	add := func(list *[]Address, a Address, computed bool) {
		a.Email = strings.ToLower(strings.TrimSpace(a.Email))
		a.Name = oneLine(a.Name)
		if a.Email == "" || seen[a.Email] || (computed && isOwn(a.Email)) {
			return
		}
		if strings.ContainsFunc(a.Email, unicode.IsControl) {
			return // no mailbox has such an address, and no header can carry it
		}
		seen[a.Email] = true
		*list = append(*list, a)
	}
	if mode == Reply || mode == ReplyAll {
		fromSelf := len(orig.From) > 0 && isOwn(orig.From[0].Email)
		base := orig.ReplyTo
		if len(base) == 0 {
			base = orig.From
		}
		if fromSelf {
			base = orig.To
		}
		for _, a := range base {
			add(&to, a, true)
		}
		if mode == ReplyAll {
			if !fromSelf {
				for _, a := range orig.To {
					add(&to, a, true)
				}
			}
			for _, a := range orig.Cc {
				add(&cc, a, true)
			}
		}
	}
	for _, e := range addTo {
		add(&to, Address{Email: e}, false)
	}
	for _, e := range addCc {
		add(&cc, Address{Email: e}, false)
	}
	return to, cc
}

// Subject returns the subject of a reply ("Re: ") or forward ("Fwd: ")
// of subject, with the reply and forward prefixes and list tags that
// threading ignores removed first, so prefixes never stack.
func Subject(mode Mode, subject string) string {
	base := StripPrefixes(oneLine(subject))
	prefix := "Re:"
	if mode == Forward {
		prefix = "Fwd:"
	}
	if base == "" {
		return prefix
	}
	return prefix + " " + base
}

// StripPrefixes removes leading "Re:", "Fwd:", "AW:", "SV:", "[tag]" and
// the like from subject, keeping the rest as written. A leading part is a
// prefix when threading.NormalizeSubject ignores it, so the two agree on
// what a prefix is.
func StripPrefixes(subject string) string {
	s := strings.TrimSpace(subject)
	key := threading.NormalizeSubject(s)
	if key == "" {
		return ""
	}
	for {
		stripped := false
		off := 0
		for tries := 0; tries < 16 && !stripped; tries++ {
			i := strings.IndexAny(s[off:], ":：]")
			if i < 0 {
				break
			}
			_, size := utf8.DecodeRuneInString(s[off+i:])
			off += i + size
			rest := strings.TrimSpace(s[off:])
			if rest != "" && threading.NormalizeSubject(rest) == key {
				s, stripped = rest, true
			}
		}
		if !stripped {
			return s
		}
	}
}

// References returns the References of an answer to orig: its References
// and its Message-ID, at most maxReferences ids (the first and the latest).
func References(orig Original) []string {
	refs := slices.Clone(orig.References)
	if orig.MessageID != "" {
		refs = append(refs, orig.MessageID)
	}
	var out []string
	for _, r := range refs {
		r = strings.Trim(strings.TrimSpace(r), "<>")
		if validID(r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) > maxReferences {
		out = append(out[:1], out[len(out)-(maxReferences-1):]...)
	}
	return out
}

// validID: an id that can go between angle brackets in a header.
func validID(id string) bool {
	if id == "" || len(id) > 250 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r >= 0x7f || r == '<' || r == '>' {
			return false
		}
	}
	return true
}

// NewMessageID returns a fresh Message-ID (without brackets) at domain.
func NewMessageID(domain string, now time.Time) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	domain = strings.ToLower(strings.TrimSpace(domain))
	if !validID(domain) {
		domain = "sightline.invalid"
	}
	return strconv.FormatInt(now.UnixMilli(), 36) + "." + hex.EncodeToString(b[:]) + "@" + domain
}

// domainOf returns the part after the last '@'.
func domainOf(email string) string {
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return email[i+1:]
	}
	return ""
}

// oneLine collapses white space (and removes line breaks) so a value fits
// one header field.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}

// Build composes the message of d answering or forwarding orig.
func Build(d Draft, orig Original) (*Message, error) {
	switch d.Mode {
	case Reply, ReplyAll, Forward:
	default:
		return nil, fmt.Errorf("compose: unknown mode %d", d.Mode)
	}
	from := Address{Name: oneLine(d.From.Name), Email: strings.ToLower(strings.TrimSpace(d.From.Email))}
	if from.Email == "" {
		return nil, errors.New("compose: no From address")
	}
	to, cc := Recipients(d.Mode, orig, d.Own, d.To, d.Cc)
	if len(to)+len(cc) == 0 {
		return nil, ErrNoRecipients
	}
	if len(to) == 0 { // Cc only: the first Cc becomes the To
		to, cc = cc[:1], cc[1:]
	}
	date := d.Date
	if date.IsZero() {
		date = time.Now()
	}
	id := NewMessageID(domainOf(from.Email), date)
	if !validID(id) {
		return nil, fmt.Errorf("compose: invalid Message-ID %q", id)
	}
	subject := Subject(d.Mode, orig.Subject)

	// textproto writes fields in reverse order of addition.
	var h mail.Header
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	refs := References(orig)
	h.SetMsgIDList("References", refs)
	if validID(orig.MessageID) {
		h.SetMsgIDList("In-Reply-To", []string{orig.MessageID})
	}
	h.SetMessageID(id)
	if strings.Contains(subject, "=?") {
		// Written as it is, it would read as an encoded word (RFC 2047) at
		// the recipient, and the reply would not keep its subject.
		h.Set("Subject", encodedWords(subject))
	} else {
		h.SetSubject(subject) // encoded only when not ASCII
	}
	h.SetAddressList("Cc", mailAddrs(cc))
	h.SetAddressList("To", mailAddrs(to))
	h.SetAddressList("From", mailAddrs([]Address{from}))
	h.SetDate(date)

	body := Body(d.Mode, d.Text, orig)
	var buf bytes.Buffer
	if d.Mode == Forward && len(d.Attachments) > 0 {
		// multipart/mixed written part by part: go-message's part writer
		// refuses text parts in charsets other than UTF-8, and a forwarded
		// attachment keeps its own, byte for byte.
		mw := textproto.NewMultipartWriter(&buf)
		h.SetContentType("multipart/mixed", map[string]string{"boundary": mw.Boundary()})
		if err := textproto.WriteHeader(&buf, h.Header.Header); err != nil {
			return nil, err
		}
		var th textproto.Header
		th.Set("Content-Transfer-Encoding", "quoted-printable")
		th.Set("Content-Disposition", "inline")
		th.Set("Content-Type", "text/plain; charset=utf-8")
		pw, err := mw.CreatePart(th)
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := io.WriteString(qp, body); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
		for _, a := range d.Attachments {
			ah := a.partHeader()
			pw, err := mw.CreatePart(ah.Header)
			if err != nil {
				return nil, err
			}
			if err := writeBase64(pw, a.Data); err != nil {
				return nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
	} else {
		w, err := mail.CreateSingleInlineWriter(&buf, h)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, body); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	return &Message{Raw: buf.Bytes(), MessageID: id, To: to, Cc: cc}, nil
}

func mailAddrs(l []Address) []*mail.Address {
	out := make([]*mail.Address, len(l))
	for i, a := range l {
		out[i] = &mail.Address{Name: a.Name, Address: a.Email}
	}
	return out
}

// Body is the plain text of the message: the new text, then the quoted
// original ("On <date>, <sender> wrote:" and "> " lines) for replies, or
// the forwarded-message block for forwards. Line ends are "\n".
func Body(mode Mode, text string, orig Original) string {
	var b strings.Builder
	text = strings.TrimRight(normalizeNewlines(text), "\n ")
	if text != "" {
		b.WriteString(text)
		b.WriteString("\n\n")
	}
	quoted := strings.TrimRight(normalizeNewlines(orig.Text), "\n ")
	if mode == Forward {
		b.WriteString("---------- Forwarded message ---------\n")
		if len(orig.From) > 0 {
			fmt.Fprintf(&b, "From: %s\n", joinAddrs(orig.From))
		}
		if !orig.Date.IsZero() {
			fmt.Fprintf(&b, "Date: %s\n", formatDate(orig.Date))
		}
		fmt.Fprintf(&b, "Subject: %s\n", oneLine(orig.Subject))
		if len(orig.To) > 0 {
			fmt.Fprintf(&b, "To: %s\n", joinAddrs(orig.To))
		}
		if len(orig.Cc) > 0 {
			fmt.Fprintf(&b, "Cc: %s\n", joinAddrs(orig.Cc))
		}
		b.WriteString("\n")
		b.WriteString(quoted)
		b.WriteString("\n")
		return b.String()
	}
	who := "someone"
	if len(orig.From) > 0 {
		who = orig.From[0].String()
	}
	if orig.Date.IsZero() {
		fmt.Fprintf(&b, "%s wrote:\n", oneLine(who))
	} else {
		fmt.Fprintf(&b, "On %s, %s wrote:\n", formatDate(orig.Date), oneLine(who))
	}
	for _, l := range strings.Split(quoted, "\n") {
		switch {
		case l == "":
			b.WriteString(">\n")
		case strings.HasPrefix(l, ">"):
			b.WriteString(">" + l + "\n")
		default:
			b.WriteString("> " + l + "\n")
		}
	}
	return b.String()
}

func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func joinAddrs(l []Address) string {
	parts := make([]string, len(l))
	for i, a := range l {
		parts[i] = oneLine(a.String())
	}
	return strings.Join(parts, ", ")
}

// encodedWords encodes s as RFC 2047 "B" encoded words of UTF-8, each
// within the 75 characters an encoded word may have, split between runes.
func encodedWords(s string) string {
	const maxBytes = 45 // 60 characters of base64 + 12 of "=?utf-8?b??="
	var words []string
	for len(s) > 0 {
		n := min(len(s), maxBytes)
		for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if n == 0 { // not UTF-8 at all: cut anywhere
			n = min(len(s), maxBytes)
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// formatDate is the quote line's date, in UTC: the time comes from the
// database in the server's local zone, which must not change what is sent.
func formatDate(t time.Time) string { return t.UTC().Format("Mon, 2 Jan 2006 at 15:04 -0700") }

// writeBase64 writes data in base64, 76 characters a line (RFC 2045).
func writeBase64(w io.Writer, data []byte) error {
	const perLine = 57 // bytes that encode to 76 characters
	line := make([]byte, 0, 78)
	for len(data) > 0 {
		n := min(perLine, len(data))
		line = base64.StdEncoding.AppendEncode(line[:0], data[:n])
		line = append(line, '\r', '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
