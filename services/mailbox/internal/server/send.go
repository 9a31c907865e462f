package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"

	"github.com/sightline/sightline/pkg/apierr"
	"github.com/sightline/sightline/pkg/auth"
	commonv1 "github.com/sightline/sightline/pkg/gen/sightline/common/v1"
	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	"github.com/sightline/sightline/pkg/logging"
	"github.com/sightline/sightline/services/mailbox/internal/compose"
	"github.com/sightline/sightline/services/mailbox/internal/mailconn"
	"github.com/sightline/sightline/services/mailbox/internal/mime"
	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// Limits and timing of SendThreadMessage.
const (
	maxSendBodyBytes  = 1 << 20
	maxSendRecipients = 100
	maxRequestIDBytes = 128
	// sendLease is how long an attempt holds its outgoing record; a retry
	// with the same request_id meanwhile is told to wait (ABORTED). It is
	// longer than sendTimeout, so a live attempt never loses it.
	sendLease = 5 * time.Minute
	// sendTimeout bounds the provider work of one attempt (SMTP, IMAP), which
	// runs to its end even when the caller goes away.
	sendTimeout = 2 * time.Minute
)

// sendInput is a validated SendThreadMessageRequest.
type sendInput struct {
	threadID, messageID, accountID int64
	mode                           compose.Mode
	to, cc                         []string
	body, requestID                string
	hash                           string // of every field but request_id (AIP-155 reuse check)
}

func validateSend(req *mailboxv1.SendThreadMessageRequest) (sendInput, error) {
	in := sendInput{threadID: req.GetThreadId(), messageID: req.GetMessageId(), accountID: req.GetMailAccountId(),
		body: req.GetBodyText(), requestID: strings.TrimSpace(req.GetRequestId())}
	vs := positive("thread_id", in.threadID)
	switch req.GetMode() {
	case mailboxv1.SendMode_SEND_MODE_REPLY:
		in.mode = compose.Reply
	case mailboxv1.SendMode_SEND_MODE_REPLY_ALL:
		in.mode = compose.ReplyAll
	case mailboxv1.SendMode_SEND_MODE_FORWARD:
		in.mode = compose.Forward
	default:
		vs = append(vs, apierr.Field("mode", "must be SEND_MODE_REPLY, SEND_MODE_REPLY_ALL or SEND_MODE_FORWARD"))
	}
	if in.messageID < 0 {
		vs = append(vs, apierr.Field("message_id", "must be 0 (the thread's latest message) or a positive id"))
	}
	if in.accountID < 0 {
		vs = append(vs, apierr.Field("mail_account_id", "must be 0 (chosen for you) or a positive id"))
	}
	var v []apierr.FieldViolation
	in.to, v = normalizeEmails("to", req.GetTo(), maxSendRecipients)
	vs = append(vs, v...)
	in.cc, v = normalizeEmails("cc", req.GetCc(), maxSendRecipients)
	vs = append(vs, v...)
	switch n := len(req.GetTo()) + len(req.GetCc()); {
	case n > maxSendRecipients && len(req.GetTo()) <= maxSendRecipients && len(req.GetCc()) <= maxSendRecipients:
		vs = append(vs, apierr.Field("cc", "at most %d recipients in to and cc together, got %d", maxSendRecipients, n))
	case n == 0 && in.mode == compose.Forward:
		vs = append(vs, apierr.Field("to", "a forward needs at least one recipient in to or cc"))
	}
	vs = append(vs, text("body_text", in.body, maxSendBodyBytes)...)
	vs = append(vs, text("request_id", in.requestID, maxRequestIDBytes)...)
	if err := invalid(vs); err != nil {
		return in, err
	}
	h := sha256.New()
	for _, n := range []int64{in.threadID, int64(in.mode), in.messageID, in.accountID, int64(len(in.to)), int64(len(in.cc))} {
		_ = binary.Write(h, binary.BigEndian, n)
	}
	for _, s := range slices.Concat(in.to, in.cc, []string{in.body}) {
		_ = binary.Write(h, binary.BigEndian, int64(len(s)))
		h.Write([]byte(s))
	}
	in.hash = hex.EncodeToString(h.Sum(nil))
	return in, nil
}

// SendThreadMessage replies to or forwards a message of a thread (M5) from
// one of the caller's accounts: it checks M5, composes the message,
// records it (migration 005), submits it over SMTP, appends it to the
// provider's Sent folder (a failure there is logged, not returned: the
// message was sent) and ingests it into the caller's mailbox, where it
// joins the thread by In-Reply-To.
//
// Idempotency and crashes (AIP-155): the record is written before the SMTP
// transaction. A retry with the same request_id returns the first result
// once stored; finishes the Sent copy and the ingest, without sending, when
// the first attempt died after the SMTP server accepted the message; and
// answers ABORTED while another attempt holds the record. When an attempt
// died (or lost its connection) between handing the message over and
// hearing the server's answer, nobody can know whether it went out: a retry
// answers FAILED_PRECONDITION with SEND_FAILED and outcome "unknown" and
// never sends again on its own; the user checks the Sent folder and sends
// with a new request_id if needed. A definite failure (refused, or the
// server unreachable before the end of DATA) deletes the record, so a retry
// sends.
func (s *Server) SendThreadMessage(ctx context.Context, req *mailboxv1.SendThreadMessageRequest) (*mailboxv1.SendThreadMessageResponse, error) {
	p, err := user(ctx)
	if err != nil {
		return nil, err
	}
	in, err := validateSend(req)
	if err != nil {
		return nil, err
	}
	if in.requestID != "" {
		o, err := s.store.OutgoingByRequest(ctx, p.CompanyID, p.UserID, in.requestID)
		switch {
		case err == nil:
			return s.resumeSend(ctx, p, in, o)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}

	t, reason, err := s.replyPermission(ctx, p, in.threadID)
	if err != nil {
		return nil, err
	}
	switch reason {
	case mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_ALLOWED:
	case mailboxv1.ReplyPermissionReason_REPLY_PERMISSION_REASON_NOT_A_PARTICIPANT:
		return nil, domainErr(codes.PermissionDenied, mailboxv1.ErrorReason_ERROR_REASON_NOT_A_PARTICIPANT,
			"you can read thread %d but none of your addresses takes part in it, so you cannot reply to or forward it", in.threadID).
			WithMetadata("thread_id", itoa(in.threadID))
	default:
		return nil, threadNotFound(in.threadID)
	}
	orig, err := s.originalMessage(ctx, p, t, in.messageID)
	if err != nil {
		return nil, err
	}
	acct, err := s.sendingAccount(ctx, p, in.accountID, orig)
	if err != nil {
		return nil, err
	}
	cred, err := s.credentials(ctx, p, acct)
	if err != nil {
		return nil, err
	}
	own, err := s.store.UserAddresses(ctx, p.CompanyID, p.UserID)
	if err != nil {
		return nil, err
	}
	refs, err := s.store.MessageRefs(ctx, p.CompanyID, orig.ID)
	if err != nil {
		return nil, err
	}
	var atts []compose.Attachment
	if in.mode == compose.Forward && orig.HasAttachments {
		if atts, err = s.originalAttachments(ctx, acct, cred, orig); err != nil {
			return nil, err
		}
	}
	now := s.now()
	msg, err := compose.Build(compose.Draft{
		Mode: in.mode, From: compose.Address{Name: acct.DisplayName, Email: acct.Email}, Own: own,
		To: in.to, Cc: in.cc, Text: in.body, Date: now, Attachments: atts,
	}, originalOf(orig, refs))
	if errors.Is(err, compose.ErrNoRecipients) {
		return nil, apierr.InvalidArgument(apierr.Field("to",
			"the message replied to has no sender to answer (or only you); give at least one recipient"))
	}
	if err != nil {
		return nil, err
	}
	if len(msg.Raw) > MaxRawMessageBytes {
		return nil, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"the message would be %d bytes with the original's attachments, more than %d; nothing was sent",
			len(msg.Raw), MaxRawMessageBytes).WithMetadata("max_bytes", itoa(MaxRawMessageBytes))
	}

	rec, err := s.store.BeginOutgoing(ctx, p.CompanyID, store.Outgoing{UserID: p.UserID, RequestID: in.requestID,
		RequestHash: in.hash, AccountID: acct.ID, LeaseUntil: now.Add(sendLease), InternetMessageID: msg.MessageID,
		Raw: msg.Raw})
	if errors.Is(err, store.ErrOutgoingExists) { // a concurrent attempt with the same request_id won
		return s.resumeSend(ctx, p, in, rec)
	}
	if err != nil {
		return nil, err
	}
	logging.AddFields(ctx, zap.Int64("thread_id", in.threadID), zap.Int64("mail_account_id", acct.ID),
		zap.Int64("outgoing_id", rec.ID))

	// From here on the attempt runs to its end whatever the caller does.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	if err := s.submit(wctx, acct, cred, msg.Raw, msg.Recipients()); err != nil {
		var se *submitError
		if errors.As(err, &se) && se.uncertain {
			_ = s.store.ReleaseOutgoing(wctx, p.CompanyID, rec.ID)
		} else {
			_ = s.store.DeleteOutgoing(wctx, p.CompanyID, rec.ID)
		}
		return nil, sendErr(acct, err)
	}
	if err := s.store.MarkOutgoingSent(wctx, p.CompanyID, rec.ID); err != nil {
		// Sent, but not recorded as such: finishing below still records it as stored.
		logging.FromContext(ctx).Warn("sent message not marked as sent", zap.Int64("outgoing_id", rec.ID), zap.Error(err))
	}
	return s.finishSend(wctx, p, acct, &cred, rec.ID, msg.Raw)
}

// resumeSend answers a request whose request_id has a record.
func (s *Server) resumeSend(ctx context.Context, p auth.Principal, in sendInput, o store.Outgoing) (*mailboxv1.SendThreadMessageResponse, error) {
	if o.RequestHash != in.hash {
		return nil, apierr.New(codes.AlreadyExists, apierr.CommonDomain, commonv1.ErrorReason_ERROR_REASON_REQUEST_ID_REUSED.String(),
			"request_id was already used for a different message")
	}
	now := s.now()
	inProgress := func() error {
		return domainErr(codes.Aborted, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"a request with this request_id is being sent right now; retry in a minute for its result").
			WithMetadata("outcome", "in_progress")
	}
	switch {
	case o.State == store.OutgoingStored:
		return &mailboxv1.SendThreadMessageResponse{ThreadId: o.ThreadID, MessageId: o.MessageID,
			InternetMessageId: o.InternetMessageID}, nil
	case o.LeaseHeld(now):
		return nil, inProgress()
	case o.State == store.OutgoingSending:
		return nil, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"an earlier attempt with this request_id stopped while the message was being handed to the SMTP server, "+
				"so whether it was sent is unknown; it is not sent again automatically. Check your Sent folder for "+
				"Message-ID <%s> and send again with a new request_id if it is missing", o.InternetMessageID).
			WithMetadata("outcome", "unknown", "internet_message_id", o.InternetMessageID)
	}
	// Sent, but the attempt died before storing it: finish its work.
	o, err := s.store.ClaimOutgoing(ctx, p.CompanyID, o.ID, now, now.Add(sendLease))
	if errors.Is(err, store.ErrNotFound) {
		return nil, inProgress()
	}
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	acct, err := s.store.Account(wctx, p.CompanyID, p.UserID, o.AccountID)
	switch {
	case errors.Is(err, store.ErrNotFound): // the account is gone: store the copy without it
		return s.finishSend(wctx, p, store.Account{}, nil, o.ID, o.Raw)
	case err != nil:
		_ = s.store.ReleaseOutgoing(wctx, p.CompanyID, o.ID)
		return nil, err
	}
	cred, err := s.credentials(wctx, p, acct)
	if err != nil {
		return s.finishSend(wctx, p, acct, nil, o.ID, o.Raw) // no Sent copy, but the mailbox has it
	}
	return s.finishSend(wctx, p, acct, &cred, o.ID, o.Raw)
}

// finishSend stores a sent message: the provider's Sent folder (when cred
// is set; a failure is logged), the caller's mailbox, then the record. On a
// failure the record's lease ends so that a retry finishes the work at once.
func (s *Server) finishSend(ctx context.Context, p auth.Principal, acct store.Account, cred *mailconn.Credentials, recID int64, raw []byte) (*mailboxv1.SendThreadMessageResponse, error) {
	log := logging.FromContext(ctx)
	msg, err := mime.Parse(raw, mime.Options{MaxSize: MaxRawMessageBytes})
	if err != nil {
		return nil, fmt.Errorf("parse the sent message: %w", err) // we composed it: a bug
	}
	if cred != nil {
		if err := s.appendSent(ctx, acct, *cred, raw, msg.MessageID, msg.Date); err != nil {
			log.Warn("sent message not copied to the provider's Sent folder",
				zap.Int64("mail_account_id", acct.ID), zap.Error(err))
		}
	}
	res, err := s.store.Ingest(ctx, store.IngestParams{CompanyID: p.CompanyID, UserID: p.UserID, AccountID: acct.ID,
		Folder: "Sent", Msg: msg, Seen: true, Now: s.now()})
	if err == nil {
		err = s.store.MarkOutgoingStored(ctx, p.CompanyID, recID, res.ThreadID, res.MessageID)
	}
	if err != nil {
		_ = s.store.ReleaseOutgoing(ctx, p.CompanyID, recID)
		log.Error("sent message not stored in the mailbox; a retry with the same request_id stores it",
			zap.Int64("outgoing_id", recID), zap.Error(err))
		return nil, domainErr(codes.Unavailable, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"the message was sent but could not be stored in your mailbox yet; retry with the same request_id "+
				"to store it (it is not sent again)").WithMetadata("outcome", "sent").WithCause(err)
	}
	return &mailboxv1.SendThreadMessageResponse{ThreadId: res.ThreadID, MessageId: res.MessageID,
		InternetMessageId: msg.MessageID}, nil
}

// originalMessage is the message answered: the given one of the thread, else its latest.
func (s *Server) originalMessage(ctx context.Context, p auth.Principal, t store.Thread, id int64) (store.Message, error) {
	notFound := func() error {
		return domainErr(codes.NotFound, mailboxv1.ErrorReason_ERROR_REASON_MESSAGE_NOT_FOUND,
			"message %d not found in thread %d", id, t.ID).WithMetadata("message_id", itoa(id), "thread_id", itoa(t.ID))
	}
	if id > 0 {
		m, err := s.store.ThreadMessage(ctx, p.CompanyID, t.ID, id, true)
		if errors.Is(err, store.ErrNotFound) {
			return m, notFound()
		}
		return m, err
	}
	ms, err := s.store.LatestMessages(ctx, p.CompanyID, t.ID, 1, true)
	if err != nil {
		return store.Message{}, err
	}
	if len(ms) == 0 {
		return store.Message{}, notFound()
	}
	return ms[0], nil
}

// sendingAccount chooses the caller's account: the one asked for, else the
// one the message was synced from when it is the caller's, else the
// caller's first.
func (s *Server) sendingAccount(ctx context.Context, p auth.Principal, id int64, orig store.Message) (store.Account, error) {
	if id > 0 {
		a, err := s.store.Account(ctx, p.CompanyID, p.UserID, id)
		if errors.Is(err, store.ErrNotFound) {
			return a, accountNotFound(id)
		}
		return a, err
	}
	if orig.OwnerID == p.UserID && orig.AccountID != 0 {
		a, err := s.store.Account(ctx, p.CompanyID, p.UserID, orig.AccountID)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return a, err
		}
	}
	as, err := s.store.ListAccounts(ctx, p.CompanyID, p.UserID, 0, 1)
	if err != nil {
		return store.Account{}, err
	}
	if len(as) == 0 {
		return store.Account{}, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NOT_FOUND,
			"you have no mail account to send from; connect one with CreateMailAccount")
	}
	return as[0], nil
}

// credentials opens the account's sealed secret (S5: it goes to the
// provider and nowhere else).
func (s *Server) credentials(ctx context.Context, p auth.Principal, a store.Account) (mailconn.Credentials, error) {
	reauth := func(why string) error {
		return domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NEEDS_REAUTH,
			"mail account %d %s; update its secret with UpdateMailAccount", a.ID, why).WithMetadata("mail_account_id", itoa(a.ID))
	}
	if !a.HasSecret {
		return mailconn.Credentials{}, reauth("has no secret")
	}
	if s.box == nil {
		return mailconn.Credentials{}, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SECRET_STORAGE_UNAVAILABLE,
			"this server has no secret keys configured (SECRET_KEYS), so it cannot open the mail account's secret")
	}
	sealed, err := s.store.AccountSecret(ctx, p.CompanyID, p.UserID, a.ID)
	if err != nil {
		return mailconn.Credentials{}, err
	}
	plain, err := s.OpenSecret(p.CompanyID, p.UserID, sealed)
	if err != nil {
		return mailconn.Credentials{}, reauth("has a secret this server's keys cannot open")
	}
	return mailconn.Credentials{Username: a.Username, Secret: plain, Kind: mailconn.AuthKind(a.AuthKind)}, nil
}

func originalOf(m store.Message, refs []string) compose.Original {
	conv := func(l []store.Addr) []compose.Address {
		out := make([]compose.Address, len(l))
		for i, a := range l {
			out[i] = compose.Address{Name: a.Name, Email: a.Email}
		}
		return out
	}
	date := m.SentAt
	if date.IsZero() {
		date = m.MessageAt
	}
	body := m.BodyText
	if strings.TrimSpace(body) == "" {
		body = m.Snippet
	}
	return compose.Original{MessageID: m.InternetMessageID, References: refs, Subject: m.Subject,
		From: conv(m.Addresses.From), ReplyTo: conv(m.Addresses.ReplyTo), To: conv(m.Addresses.To),
		Cc: conv(m.Addresses.Cc), Date: date, Text: body}
}

func endpoint(ss store.ServerSettings) mailconn.Endpoint {
	return mailconn.Endpoint{Host: ss.Host, Port: int(ss.Port), Security: mailconn.Security(ss.Security)}
}

// submitError is a failed SMTP submission.
type submitError struct {
	auth      bool   // the server refused the credentials
	permanent bool   // a 5xx refusal: retrying the same message cannot help
	uncertain bool   // the connection broke after the whole message was handed over
	reply     string // the server's reply ("550 5.1.1 ..."), if any
	step      string // what was refused: "the sender", "recipient x", "the message"
	err       error
}

func (e *submitError) Error() string { return "smtp submission: " + e.step + ": " + e.err.Error() }
func (e *submitError) Unwrap() error { return e.err }

func smtpFailure(step string, err error) *submitError {
	se := &submitError{step: step, err: err}
	var reply *smtp.SMTPError
	if errors.As(err, &reply) {
		se.permanent = reply.Code >= 500
		se.reply = fmt.Sprintf("%d", reply.Code)
		if c := reply.EnhancedCode; c != smtp.NoEnhancedCode && c != smtp.EnhancedCodeNotSet {
			se.reply += fmt.Sprintf(" %d.%d.%d", c[0], c[1], c[2])
		}
		if reply.Message != "" {
			se.reply += " " + reply.Message
		}
	}
	return se
}

// submit hands the message to the account's SMTP submission server: MAIL
// FROM the account's address, RCPT each recipient, DATA.
func (s *Server) submit(ctx context.Context, a store.Account, cred mailconn.Credentials, raw []byte, rcpts []string) error {
	c, err := mailconn.DialSMTP(ctx, endpoint(a.SMTP), cred, s.provider)
	if err != nil {
		se := smtpFailure("connecting", err)
		se.auth = errors.Is(err, mailconn.ErrAuthFailed)
		se.permanent = false // a greeting or EHLO refusal is the server's state, not the message's
		return se
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Mail(a.Email, nil); err != nil {
		return smtpFailure("the sender "+a.Email, err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return smtpFailure("recipient "+r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpFailure("the message", err)
	}
	if _, err := w.Write(raw); err != nil {
		// Without the final dot the server discards what it got.
		return smtpFailure("the message", err)
	}
	if err := w.Close(); err != nil {
		se := smtpFailure("the message", err)
		var reply *smtp.SMTPError
		se.uncertain = !errors.As(err, &reply)
		return se
	}
	_ = c.Quit()
	return nil
}

// sendErr maps a failed submission to the API's answer; the client sees the
// server's reply text, never the credentials.
func sendErr(a store.Account, err error) error {
	var se *submitError
	if !errors.As(err, &se) {
		return err
	}
	server := endpoint(a.SMTP).Addr()
	switch {
	case errors.Is(err, mailconn.ErrPlaintext):
		return domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"mail account %d sends to %s without TLS, which is allowed to loopback servers only; set its SMTP "+
				"security to TLS or STARTTLS with UpdateMailAccount; nothing was sent", a.ID, server).
			WithMetadata("outcome", "not_sent", "smtp_server", server, "mail_account_id", itoa(a.ID)).WithCause(err)
	case se.auth:
		return domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NEEDS_REAUTH,
			"the SMTP server %s refused the credentials of mail account %d; update its secret with UpdateMailAccount; nothing was sent",
			server, a.ID).WithMetadata("mail_account_id", itoa(a.ID)).WithCause(err)
	case se.uncertain:
		return domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"the connection to the SMTP server %s broke after the message was handed over, so whether it was sent "+
				"is unknown; check your Sent folder before sending again", server).
			WithMetadata("outcome", "unknown", "smtp_server", server).WithCause(err)
	case se.permanent:
		return domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"the SMTP server %s refused %s: %s; nothing was sent", server, se.step, se.reply).
			WithMetadata("outcome", "refused", "smtp_server", server, "smtp_reply", se.reply).WithCause(err)
	}
	why := "could not be reached"
	if se.reply != "" {
		why = "answered " + se.reply
	}
	return domainErr(codes.Unavailable, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
		"the SMTP server %s %s (%s); nothing was sent, retry later", server, why, se.step).
		WithMetadata("outcome", "not_sent", "smtp_server", server).WithCause(err)
}

// withIMAP runs fn on a connection to the account's IMAP server, closed
// when ctx ends.
func (s *Server) withIMAP(ctx context.Context, a store.Account, cred mailconn.Credentials, fn func(*imapclient.Client) error) error {
	c, err := mailconn.DialIMAP(ctx, endpoint(a.IMAP), cred, s.provider)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := fn(c); err != nil {
		return err
	}
	return c.Logout().Wait()
}

// sentFolder is the account's special-use \Sent mailbox, else "Sent".
func sentFolder(c *imapclient.Client) string {
	list, err := mailconn.ListMailboxes(c)
	if err != nil {
		return "Sent"
	}
	if name := mailconn.SpecialMailbox(list, imap.MailboxAttrSent, "Sent"); name != "" {
		return name
	}
	return "Sent"
}

// findMessage returns the UID of the message with a Message-ID in the
// selected-to-be folder (0: none). SEARCH HEADER matches substrings, so
// every hit is checked on its parsed header.
func findMessage(c *imapclient.Client, folder, messageID string, fetch bool) (imap.UID, []byte, error) {
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, nil, err
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: messageID}}}, nil).Wait()
	if err != nil {
		return 0, nil, err
	}
	for _, uid := range data.AllUIDs() {
		section := &imap.FetchItemBodySection{Peek: true}
		if !fetch {
			section = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
		}
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return 0, nil, err
		}
		for _, m := range msgs {
			raw := m.FindBodySection(section)
			if id := headerMessageID(raw); id == messageID {
				return uid, raw, nil
			}
		}
	}
	return 0, nil, nil
}

func headerMessageID(raw []byte) string {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(raw)
	}
	m, err := mime.Parse(append(raw[:end:end], "\r\n\r\n"...), mime.Options{})
	if err != nil {
		return ""
	}
	return m.MessageID
}

// appendSent copies the sent message to the provider's Sent folder, \Seen,
// unless it is there already (a resumed attempt; providers that file
// submitted mail themselves).
func (s *Server) appendSent(ctx context.Context, a store.Account, cred mailconn.Credentials, raw []byte, messageID string, date time.Time) error {
	return s.withIMAP(ctx, a, cred, func(c *imapclient.Client) error {
		folder := sentFolder(c)
		if uid, _, err := findMessage(c, folder, messageID, false); err != nil || uid != 0 {
			return err
		}
		cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date})
		if _, err := cmd.Write(raw); err != nil {
			_ = cmd.Close()
			return err
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		_, err := cmd.Wait()
		return err
	})
}

// originalAttachments fetches the original from the provider (UID SEARCH
// HEADER Message-ID in the account's folders and its Sent folder) and
// returns its attachment parts: their content is not stored here. When it
// cannot, the forward fails before anything is sent.
func (s *Server) originalAttachments(ctx context.Context, a store.Account, cred mailconn.Credentials, orig store.Message) ([]compose.Attachment, error) {
	cannot := func(why string, cause error) error {
		return domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"the message forwarded has attachments, which are kept at your mail provider, and %s; nothing was sent", why).
			WithMetadata("message_id", itoa(orig.ID), "mail_account_id", itoa(a.ID)).WithCause(cause)
	}
	if orig.InternetMessageID == "" {
		return nil, cannot("it has no Message-ID to find it by", nil)
	}
	var raw []byte
	err := s.withIMAP(ctx, a, cred, func(c *imapclient.Client) error {
		folders := slices.Concat([]string{"INBOX"}, a.Folders, orig.Folders, []string{sentFolder(c)})
		seen := map[string]bool{}
		for _, f := range folders {
			if seen[f] {
				continue
			}
			seen[f] = true
			uid, body, err := findMessage(c, f, orig.InternetMessageID, true)
			var ie *imap.Error
			if errors.As(err, &ie) { // e.g. no such folder at this account
				continue
			}
			if err != nil {
				return err
			}
			if uid != 0 {
				raw = body
				return nil
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, mailconn.ErrAuthFailed):
		return nil, domainErr(codes.FailedPrecondition, mailboxv1.ErrorReason_ERROR_REASON_MAIL_ACCOUNT_NEEDS_REAUTH,
			"the IMAP server of mail account %d refused its credentials, so the attachments of the message forwarded "+
				"cannot be fetched; update its secret with UpdateMailAccount; nothing was sent", a.ID).
			WithMetadata("mail_account_id", itoa(a.ID)).WithCause(err)
	case err != nil:
		return nil, domainErr(codes.Unavailable, mailboxv1.ErrorReason_ERROR_REASON_SEND_FAILED,
			"the IMAP server %s could not be asked for the attachments of the message forwarded; nothing was sent, retry later",
			endpoint(a.IMAP).Addr()).WithCause(err)
	case raw == nil:
		return nil, cannot(fmt.Sprintf("it is no longer in the folders of mail account %d", a.ID), nil)
	}
	atts, err := compose.ExtractAttachments(raw)
	if err != nil {
		return nil, cannot("they cannot be read from it", err)
	}
	return atts, nil
}
