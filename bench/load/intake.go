package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/mail"
	"google.golang.org/grpc"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// StatusUnavailable is a scenario whose prerequisite (a Dovecot to fill, the
// mailbox's IMAP sync, the Smart Bcc listener) is not there: Note says which.
// When the prerequisite was expected (IntakeConfig.RequireIMAP/RequireSMTP),
// the scenario is reported as StatusOK with one error instead, so the run fails.
const StatusUnavailable = "unavailable"

// IntakeGroup is the group of the intake scenarios.
const IntakeGroup = "intake"

// Names of the intake scenarios (the report matches targets on their prefixes).
const (
	nameRawFetch = "raw go-imap UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[]) (ceiling)"
	nameRawParse = "raw go-imap fetch + MIME parse of each message with go-message (ceiling)"
	nameRawIdle  = "raw go-imap IDLE: APPEND until EXISTS (ceiling)"
	nameIdle     = "new mail to API latency under IDLE: APPEND until listed by ListThreads"
	nameBccCeil  = "SMTP transaction refused at RCPT, unknown recipient (ceiling)"
	nameBcc      = "Smart Bcc messages/s over SMTP (~5 KB)"
	// nameSync is a format: nameSyncOf fills in the number of messages.
	nameSync = "IMAP initial sync, %s messages (~5 KB) into PostgreSQL"
)

func nameSyncOf(n int) string { return fmt.Sprintf(nameSync, Thousands(n)) }

// The rows of a run, in report order: the IMAP scenarios (imapNames) at
// concurrency 1, then the Smart Bcc ceiling and scenario (bccNames) at each
// of bccConns. A run that cannot measure some of them reports the same rows
// (failAll, eachRow).
var (
	imapNames = []string{nameRawFetch, nameRawParse, nameSync, nameRawIdle, nameIdle}
	bccNames  = []string{nameBccCeil, nameBcc}
	bccConns  = []int{1, 4}
)

// intakeRow is one row of a run: a scenario at a concurrency.
type intakeRow struct {
	name string
	conc int
}

// imapRows are the rows of the IMAP scenarios of a sync of messages, from
// the one named from on ("" for all).
func imapRows(messages int, from string) []intakeRow {
	var out []intakeRow
	for _, n := range imapNames {
		if n == from {
			out = nil
		}
		if n == nameSync {
			n = nameSyncOf(messages)
		}
		out = append(out, intakeRow{n, 1})
	}
	return out
}

// bccRows are the rows of the Smart Bcc scenarios.
func bccRows() []intakeRow {
	var out []intakeRow
	for _, c := range bccConns {
		for _, n := range bccNames {
			out = append(out, intakeRow{n, c})
		}
	}
	return out
}

// eachRow reports every row with f (failed, unavailable).
func eachRow(rows []intakeRow, f func(name string, conc int) Result) []Result {
	out := make([]Result, 0, len(rows))
	for _, r := range rows {
		out = append(out, f(r.name, r.conc))
	}
	return out
}

// failAll reports every row as failed with err.
func failAll(rows []intakeRow, err error) []Result {
	return eachRow(rows, func(name string, conc int) Result { return failed(name, conc, err) })
}

// IntakeConfig says where the intake scenarios find their servers.
type IntakeConfig struct {
	Company int64 // fresh company id for the intake users
	// The Dovecot to fill (run-local's demo Dovecot: 127.0.0.1:10143, ada /
	// demo-password). The load command writes into a fresh folder of that
	// user for the initial sync and into its INBOX for the IDLE latency.
	IMAPAddr, IMAPUser, IMAPPassword string
	SMTPAddr                         string // the mailbox's Smart Bcc listener
	Messages                         int    // initial sync size (5,000)
	Samples                          int    // IDLE latency samples
	Duration                         time.Duration
	Runs                             int
	// Whether a missing Dovecot / sync / SMTP listener is an error (it is
	// expected there) or only reported as StatusUnavailable.
	RequireIMAP, RequireSMTP bool
}

// unavailable reports a scenario that could not run: an error when required.
func unavailable(name string, conc int, required bool, why string) Result {
	if required {
		r := Skipped(IntakeGroup, name, conc, StatusOK, "prerequisite missing: "+why)
		r.Requests, r.Errors, r.FirstErr = 1, 1, why
		return r
	}
	return Skipped(IntakeGroup, name, conc, StatusUnavailable, why)
}

// failed reports a scenario that ran into an error.
func failed(name string, conc int, err error) Result {
	r := Skipped(IntakeGroup, name, conc, StatusOK, "failed: not measured")
	r.Requests, r.Errors, r.FirstErr = 1, 1, err.Error()
	return r
}

// IntakeScenarios runs the intake scenarios of issue 6 against the mailbox
// (with its visibility) and the Dovecot and SMTP listener of cfg:
//
//   - IMAP initial sync of cfg.Messages ~5 KB messages: the load command
//     APPENDs them into a fresh folder of cfg.IMAPUser, connects a mail
//     account of a fresh user to that folder with CreateMailAccount and polls
//     GetMailAccount until its sync status is SYNCED with every message done;
//     the rate is messages / (SYNCED − the first status that is not PENDING),
//     so the wait for a sync worker to claim the account (at most ~5 s) is
//     reported apart. Beside it, in each run, the ceiling: one raw go-imap
//     UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[]) of the same folder
//     on a fresh connection (login included), and the same bodies parsed by
//     go-message afterwards (reported as a second row; the ratio is to the
//     fetch alone, the stricter ceiling).
//   - New mail under IDLE: an account of another fresh user on the INBOX of
//     cfg.IMAPUser; once synced, cfg.Samples messages APPENDed one at a time,
//     each timed until ListThreads (polled every 5 ms) lists it, beside a raw
//     go-imap client in IDLE on the same INBOX timed until its EXISTS.
//   - Smart Bcc: ~5 KB messages over SMTP (net/smtp, one connection per
//     worker, MAIL/RCPT/DATA per message) to the company's Smart Bcc address
//     from a verified address of a user, at 1 and 4 connections, beside the
//     same transactions refused at RCPT (an unknown Smart Bcc token: the
//     listener's lookup, no DATA, no ingest), the protocol's ceiling.
//
// svc calls as a service principal of cfg.Company, user as a user of it.
func IntakeScenarios(ctx context.Context, vis, mb *grpc.ClientConn, cfg IntakeConfig, svc func(context.Context) context.Context,
	user func(ctx context.Context, id int64) context.Context, logf func(string, ...any)) []Result {
	vc := visibilityv1.NewVisibilityServiceClient(vis)
	mc := mailboxv1.NewMailboxServiceClient(mb)
	sctx := svc(ctx)
	all := append(imapRows(cfg.Messages, ""), bccRows()...)

	const idleUser, bccUser = 200, 300
	syncUser := func(run int) int64 { return int64(100 + run) }
	if _, err := vc.CreateCompany(sctx, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}); err != nil {
		return failAll(all, fmt.Errorf("visibility: create company %d: %w", cfg.Company, err))
	}
	users := []int64{idleUser, bccUser}
	for run := range max(cfg.Runs, 1) {
		users = append(users, syncUser(run))
	}
	for _, u := range users {
		if _, err := vc.UpsertUser(sctx, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u,
			Name: fmt.Sprintf("intake user %d", u), Active: true, Permissions: &visibilityv1.Permissions{}}}); err != nil {
			return failAll(all, fmt.Errorf("visibility: upsert user: %w", err))
		}
	}

	var out []Result
	out = append(out, imapScenarios(ctx, mc, cfg, syncUser, user(ctx, idleUser), user, logf)...)
	out = append(out, smartBccScenarios(ctx, mc, cfg, sctx, user(ctx, bccUser), bccUser, logf)...)
	return out
}

// imapLogin dials addr without TLS (loopback) and logs in.
func imapLogin(addr, username, password string, opts *imapclient.Options) (*imapclient.Client, error) {
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.Dialer = &net.Dialer{Timeout: 5 * time.Second}
	c, err := imapclient.DialInsecure(addr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Login(username, password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login as %s: %w", username, err)
	}
	return c, nil
}

func imapAppend(c *imapclient.Client, mailbox string, raw []byte) error {
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// fillFolder creates folder and APPENDs n distinct ~5 KB messages to it over
// 4 connections (threads of 4: one that starts it, three replies).
func fillFolder(cfg IntakeConfig, folder string, n int, tag int64) error {
	c, err := imapLogin(cfg.IMAPAddr, cfg.IMAPUser, cfg.IMAPPassword, nil)
	if err != nil {
		return err
	}
	err = c.Create(folder, nil).Wait()
	_ = c.Logout().Wait()
	c.Close()
	if err != nil {
		return fmt.Errorf("create %s: %w", folder, err)
	}
	const conns = 4
	now := time.Now()
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := imapLogin(cfg.IMAPAddr, cfg.IMAPUser, cfg.IMAPPassword, nil)
			if err != nil {
				errs[w] = err
				return
			}
			defer c.Close()
			for i := w; i < n; i += conns {
				spec := messageSpec{ID: fmt.Sprintf("sync-%d-%d@customer.test", tag, i),
					FromName: fmt.Sprintf("Customer %d", i/4), From: fmt.Sprintf("c%d@customer.test", i/4%500),
					To: cfg.IMAPUser + "@acme.test", Subject: fmt.Sprintf("Re: Proposal %d", i/4),
					Date: now.Add(-time.Duration(n-i) * time.Second), Seed: i}
				if i%4 != 0 {
					spec.InReplyTo = fmt.Sprintf("sync-%d-%d@customer.test", tag, i-1)
				}
				if err := imapAppend(c, folder, realisticMessage(spec)); err != nil {
					errs[w] = fmt.Errorf("append to %s: %w", folder, err)
					return
				}
			}
			_ = c.Logout().Wait()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rawFetch fetches every message of folder with one UID FETCH 1:* on a fresh
// connection (login included) and then parses each body with go-message; it
// returns how many messages, the fetch time and the parse time.
func rawFetch(cfg IntakeConfig, folder string) (int, time.Duration, time.Duration, error) {
	t0 := time.Now()
	c, err := imapLogin(cfg.IMAPAddr, cfg.IMAPUser, cfg.IMAPPassword, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, 0, 0, fmt.Errorf("examine %s: %w", folder, err)
	}
	body := &imap.FetchItemBodySection{Peek: true}
	cmd := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{body}})
	var bodies [][]byte
	for m := cmd.Next(); m != nil; m = cmd.Next() {
		for item := m.Next(); item != nil; item = m.Next() {
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok && b.Literal != nil {
				raw, err := io.ReadAll(b.Literal)
				if err != nil {
					_ = cmd.Close()
					return 0, 0, 0, err
				}
				bodies = append(bodies, raw)
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return 0, 0, 0, fmt.Errorf("uid fetch: %w", err)
	}
	fetch := time.Since(t0)
	_ = c.Logout().Wait()
	t1 := time.Now()
	for _, raw := range bodies {
		if err := parseMIME(raw); err != nil {
			return 0, 0, 0, fmt.Errorf("parse: %w", err)
		}
	}
	return len(bodies), fetch, time.Since(t1), nil
}

// parseMIME reads a message's header fields and every part's decoded body.
func parseMIME(raw []byte) error {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.Header.AddressList("From"); err != nil {
		return err
	}
	_, _ = r.Header.AddressList("To")
	_, _ = r.Header.Subject()
	_, _ = r.Header.Date()
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, p.Body); err != nil {
			return err
		}
	}
}

// account is the create request of an IMAP account on cfg's Dovecot.
func account(cfg IntakeConfig, email string, folders ...string) (*mailboxv1.MailAccount, error) {
	host, port, err := net.SplitHostPort(cfg.IMAPAddr)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.MailAccount{
		EmailAddress: email,
		Imap:         &mailboxv1.ServerSettings{Host: host, Port: int32(p), Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
		Smtp:         &mailboxv1.ServerSettings{Host: host, Port: 25, Security: mailboxv1.ConnectionSecurity_CONNECTION_SECURITY_NONE},
		Username:     cfg.IMAPUser,
		AuthKind:     mailboxv1.AuthKind_AUTH_KIND_PASSWORD,
		SyncOptions:  &mailboxv1.SyncOptions{Folders: folders},
	}, nil
}

// errSyncOff: the account was never claimed by a sync worker.
var errSyncOff = errors.New("no sync worker picked the mail account up within 30 s: the mailbox's IMAP sync is off (--sync-workers 0) or stuck")

// syncTimes creates the account and polls its status every 20 ms until it
// is SYNCED with want messages done (or, want < 0, any count); it returns
// when a worker first showed progress (state no longer PENDING) and when
// the sync was complete, both measured from the create call.
func syncTimes(ctx context.Context, mc mailboxv1.MailboxServiceClient, uctx context.Context, acc *mailboxv1.MailAccount,
	secret string, want int64, limit time.Duration) (id int64, picked, done time.Duration, err error) {
	t0 := time.Now()
	r, err := mc.CreateMailAccount(uctx, &mailboxv1.CreateMailAccountRequest{MailAccount: acc, Secret: secret})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("CreateMailAccount: %w", err)
	}
	id = r.GetMailAccount().GetId()
	lastErr := ""
	for {
		if err := ctx.Err(); err != nil {
			return id, 0, 0, err
		}
		resp, err := mc.GetMailAccount(uctx, &mailboxv1.GetMailAccountRequest{MailAccountId: id})
		if err != nil {
			return id, 0, 0, fmt.Errorf("GetMailAccount: %w", err)
		}
		st := resp.GetMailAccount().GetSyncStatus()
		el := time.Since(t0)
		switch st.GetState() {
		case mailboxv1.SyncState_SYNC_STATE_PENDING:
			if el > 30*time.Second && picked == 0 {
				return id, 0, 0, errSyncOff
			}
		case mailboxv1.SyncState_SYNC_STATE_NEEDS_REAUTH, mailboxv1.SyncState_SYNC_STATE_NO_SECRET:
			return id, 0, 0, fmt.Errorf("sync state %s: %s", st.GetState(), st.GetLastError())
		case mailboxv1.SyncState_SYNC_STATE_RETRYING:
			lastErr = st.GetLastError()
		}
		if picked == 0 && st.GetState() != mailboxv1.SyncState_SYNC_STATE_PENDING {
			picked = el
		}
		if st.GetState() == mailboxv1.SyncState_SYNC_STATE_SYNCED && len(st.GetFolders()) > 0 {
			ok := true
			var total int64
			for _, f := range st.GetFolders() {
				total += f.GetMessagesDone()
				ok = ok && f.GetMessagesDone() == f.GetMessagesTotal() && f.GetLastSuccessTime() != nil
			}
			if ok && (want < 0 || total == want) {
				return id, picked, el, nil
			}
			if ok && total != want {
				return id, picked, el, fmt.Errorf("synced %d messages, want %d", total, want)
			}
		}
		if el > limit {
			return id, picked, 0, fmt.Errorf("not synced after %s (state %s, last error %q)", limit, st.GetState(), lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func imapScenarios(ctx context.Context, mc mailboxv1.MailboxServiceClient, cfg IntakeConfig, syncUser func(int) int64,
	idleCtx context.Context, user func(context.Context, int64) context.Context, logf func(string, ...any)) []Result {
	syncName := nameSyncOf(cfg.Messages)
	rows := imapRows(cfg.Messages, "")
	skip := func(rows []intakeRow, why string) []Result {
		return eachRow(rows, func(name string, conc int) Result { return unavailable(name, conc, cfg.RequireIMAP, why) })
	}
	probe, err := imapLogin(cfg.IMAPAddr, cfg.IMAPUser, cfg.IMAPPassword, nil)
	if err != nil {
		why := fmt.Sprintf("no Dovecot to fill at %s as %s (%v): scripts/run-local.sh starts its demo Dovecot there when dovecot-imapd is installed; "+
			"the IMAP scenarios did not run", cfg.IMAPAddr, cfg.IMAPUser, err)
		logf("intake: %s", why)
		return skip(rows, why)
	}
	_ = probe.Logout().Wait()
	probe.Close()

	tag := time.Now().UnixNano()
	folder := fmt.Sprintf("bench-sync-%d", tag)
	t0 := time.Now()
	if err := fillFolder(cfg, folder, cfg.Messages, tag); err != nil {
		return failAll(rows, fmt.Errorf("filling %s: %w", folder, err))
	}
	logf("intake: APPENDed %d messages into %s of %s at %s in %s", cfg.Messages, folder, cfg.IMAPUser, cfg.IMAPAddr,
		time.Since(t0).Round(time.Millisecond))

	// Initial sync beside the raw fetch, runs times.
	var fetches, parses, syncs []Result
	var syncErr error
	for run := range max(cfg.Runs, 1) {
		n, fetch, parse, err := rawFetch(cfg, folder)
		if err == nil && n != cfg.Messages {
			err = fmt.Errorf("raw fetch: %d messages, want %d", n, cfg.Messages)
		}
		if err != nil {
			return failAll(rows, err)
		}
		rf := intakeRate(nameRawFetch, n, fetch)
		rp := intakeRate(nameRawParse, n, fetch+parse)
		rp.Note = fmt.Sprintf("fetch %.2f s + parse %.2f s", fetch.Seconds(), parse.Seconds())
		fetches, parses = append(fetches, rf), append(parses, rp)

		acc, err := account(cfg, fmt.Sprintf("sync%d@acme.test", run), folder)
		if err != nil {
			return failAll(rows, err)
		}
		u := user(ctx, syncUser(run))
		limit := 2*time.Minute + time.Duration(cfg.Messages)*20*time.Millisecond
		id, picked, done, err := syncTimes(ctx, mc, u, acc, cfg.IMAPPassword, int64(cfg.Messages), limit)
		if id != 0 {
			_, _ = mc.DeleteMailAccount(u, &mailboxv1.DeleteMailAccountRequest{MailAccountId: id})
		}
		if errors.Is(err, errSyncOff) {
			logf("intake: %v", err)
			return append([]Result{Merge(fetches), Merge(parses)}, skip(imapRows(cfg.Messages, nameSync), err.Error())...)
		}
		if err != nil {
			syncErr = err
			break
		}
		rs := intakeRate(syncName, cfg.Messages, done-picked)
		rs.Note = fmt.Sprintf("claimed by a sync worker %.1f s after CreateMailAccount (not counted); %.1f s from then to SYNCED",
			picked.Seconds(), (done - picked).Seconds())
		Compare(&rs, rf)
		syncs = append(syncs, rs)
		logf("intake: run %d: raw fetch %d msgs in %.2f s (%.0f/s; +%.2f s parse), sync %.2f s after a %.1f s claim wait (%.0f/s, %.0f%% of raw)",
			run+1, n, fetch.Seconds(), rf.Rate, parse.Seconds(), (done - picked).Seconds(), picked.Seconds(), rs.Rate, 100*rs.RateRatio)
	}
	out := []Result{Merge(fetches), Merge(parses)}
	if syncErr != nil {
		out = append(out, failed(syncName, 1, syncErr))
	} else {
		m := Merge(syncs)
		m.Note = syncs[len(syncs)/2].Note
		if len(syncs) > 1 {
			m.Note = fmt.Sprintf("median of %d runs; one of them: %s", len(syncs), m.Note)
		}
		out = append(out, m)
	}
	return append(out, idleLatency(ctx, mc, cfg, idleCtx, logf)...)
}

// intakeRate is a Result of n messages in d (one "request" per message).
func intakeRate(name string, n int, d time.Duration) Result {
	r := Result{Scenario: IntakeGroup + ": " + name, Group: IntakeGroup, Name: name, Concurrency: 1, Status: StatusOK,
		Requests: n, Seconds: d.Seconds(), Units: 1}
	if d > 0 {
		r.Rate = float64(n) / d.Seconds()
		r.UnitRate = r.Rate
	}
	r.Runs = []RunFigures{r.run()}
	return r
}

// latencies is a Result of latency samples (no rate).
func latencies(name string, lat []time.Duration, errs int, first error) Result {
	r := Result{Scenario: IntakeGroup + ": " + name, Group: IntakeGroup, Name: name, Concurrency: 1, Status: StatusOK,
		Requests: len(lat) + errs, Errors: errs}
	if first != nil {
		r.FirstErr = first.Error()
	}
	if len(lat) > 0 {
		s := slices.Clone(lat)
		slices.Sort(s)
		var sum time.Duration
		for _, d := range s {
			sum += d
		}
		r.Seconds = sum.Seconds()
		r.P50ms, r.P95ms, r.P99ms = percentile(s, 50), percentile(s, 95), percentile(s, 99)
	}
	r.Runs = []RunFigures{r.run()}
	return r
}

// idleLatency connects an account to the INBOX of cfg.IMAPUser, waits until
// it is synced, then APPENDs cfg.Samples messages one at a time and times
// each until ListThreads lists it, beside a raw go-imap client in IDLE on the
// same INBOX timed until it sees the EXISTS. It returns the raw client's
// row and the API's.
func idleLatency(ctx context.Context, mc mailboxv1.MailboxServiceClient, cfg IntakeConfig, uctx context.Context,
	logf func(string, ...any)) []Result {
	rows := imapRows(cfg.Messages, nameRawIdle)
	fail := func(err error) []Result { return failAll(rows, err) }
	acc, err := account(cfg, "idle@acme.test", "INBOX")
	if err != nil {
		return fail(err)
	}
	id, _, _, err := syncTimes(ctx, mc, uctx, acc, cfg.IMAPPassword, -1, 2*time.Minute)
	if id != 0 {
		defer func() { _, _ = mc.DeleteMailAccount(uctx, &mailboxv1.DeleteMailAccountRequest{MailAccountId: id}) }()
	}
	if errors.Is(err, errSyncOff) {
		return eachRow(rows, func(name string, conc int) Result { return unavailable(name, conc, cfg.RequireIMAP, err.Error()) })
	}
	if err != nil {
		return fail(fmt.Errorf("the INBOX account: %w", err))
	}
	time.Sleep(time.Second) // the session goes from its pass into IDLE

	exists := make(chan time.Time, 64)
	watcher, err := imapLogin(cfg.IMAPAddr, cfg.IMAPUser, cfg.IMAPPassword, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				select {
				case exists <- time.Now():
				default:
				}
			}
		}}})
	if err != nil {
		return fail(err)
	}
	defer watcher.Close()
	if _, err := watcher.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return fail(err)
	}
	idle, err := watcher.Idle()
	if err != nil {
		return fail(err)
	}
	defer func() { _ = idle.Close() }()
	app, err := imapLogin(cfg.IMAPAddr, cfg.IMAPUser, cfg.IMAPPassword, nil)
	if err != nil {
		return fail(err)
	}
	defer app.Close()

	tag := time.Now().UnixNano()
	var rawLat, apiLat []time.Duration
	rawErrs, apiErrs := 0, 0
	var rawFirst, apiFirst error
	for i := range cfg.Samples {
		if ctx.Err() != nil {
			break
		}
		subject := fmt.Sprintf("IDLE probe %d-%d", tag, i)
		raw := realisticMessage(messageSpec{ID: fmt.Sprintf("idle-%d-%d@customer.test", tag, i), FromName: "Idle Prober",
			From: "prober@customer.test", To: cfg.IMAPUser + "@acme.test", Subject: subject, Date: time.Now(), Seed: i})
		for len(exists) > 0 {
			<-exists
		}
		t0 := time.Now()
		if err := imapAppend(app, "INBOX", raw); err != nil {
			return fail(fmt.Errorf("append: %w", err))
		}
		// The raw client's EXISTS (often before the APPEND's own reply).
		select {
		case at := <-exists:
			rawLat = append(rawLat, at.Sub(t0))
		case <-time.After(30 * time.Second):
			rawErrs++
			if rawFirst == nil {
				rawFirst = errors.New("no EXISTS in IDLE within 30 s of the APPEND")
			}
		}
		// The API: poll ListThreads until the subject is listed. A sample
		// that fails (an error, or not listed in time) counts as one error.
		var sampleErr error
		found := false
		for time.Since(t0) < 30*time.Second && ctx.Err() == nil {
			resp, err := mc.ListThreads(uctx, &mailboxv1.ListThreadsRequest{Folder: mailboxv1.Folder_FOLDER_INBOX, PageSize: 20})
			if err != nil {
				sampleErr = err
				break
			}
			if slices.ContainsFunc(resp.GetThreads(), func(t *mailboxv1.Thread) bool { return t.GetSubject() == subject }) {
				apiLat = append(apiLat, time.Since(t0))
				found = true
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if !found {
			apiErrs++
			if sampleErr == nil {
				sampleErr = fmt.Errorf("message %d not listed by ListThreads within 30 s of the APPEND", i)
			}
			if apiFirst == nil {
				apiFirst = sampleErr
			}
		}
		time.Sleep(300 * time.Millisecond) // the sync session goes back into IDLE
	}
	r, a := latencies(nameRawIdle, rawLat, rawErrs, rawFirst), latencies(nameIdle, apiLat, apiErrs, apiFirst)
	Compare(&a, r)
	a.Note = fmt.Sprintf("%d messages APPENDed one at a time to the INBOX an account of the mailbox waits on in IDLE; ListThreads polled every 5 ms", len(apiLat))
	logf("intake: IDLE: %d samples; raw EXISTS p50 %.1f ms p99 %.1f ms; listed by the API p50 %.1f ms p95 %.1f ms p99 %.1f ms",
		len(apiLat), r.P50ms, r.P99ms, a.P50ms, a.P95ms, a.P99ms)
	return []Result{r, a}
}

// smtpReply is the code of an SMTP error reply, 0 for other errors.
func smtpReply(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func smartBccScenarios(ctx context.Context, mc mailboxv1.MailboxServiceClient, cfg IntakeConfig, sctx, uctx context.Context,
	bccUser int64, logf func(string, ...any)) []Result {
	rows := bccRows()
	probe, err := net.DialTimeout("tcp", cfg.SMTPAddr, 3*time.Second)
	if err != nil {
		why := fmt.Sprintf("no Smart Bcc SMTP listener at %s (%v): the mailbox listens there when started with SMTP_ADDR (scripts/run-local.sh sets it)", cfg.SMTPAddr, err)
		logf("intake: %s", why)
		return eachRow(rows, func(name string, conc int) Result { return unavailable(name, conc, cfg.RequireSMTP, why) })
	}
	probe.Close()
	from := fmt.Sprintf("sender%d@acme-bench.test", bccUser)
	if _, err := mc.SetUserAddresses(sctx, &mailboxv1.SetUserAddressesRequest{UserId: bccUser, EmailAddresses: []string{from}}); err != nil {
		return failAll(rows, fmt.Errorf("SetUserAddresses: %w", err))
	}
	br, err := mc.GetSmartBccAddress(uctx, &mailboxv1.GetSmartBccAddressRequest{})
	if err != nil {
		return failAll(rows, fmt.Errorf("GetSmartBccAddress: %w", err))
	}
	bcc := br.GetEmailAddress()
	_, domain, _ := strings.Cut(bcc, "@")
	unknown := "nosuchbenchtoken0@" + domain
	tag := time.Now().UnixNano()
	var seq sync.Mutex
	next := 0
	msg := func() []byte {
		seq.Lock()
		n := next
		next++
		seq.Unlock()
		return realisticMessage(messageSpec{ID: fmt.Sprintf("bcc-%d-%d@acme-bench.test", tag, n), FromName: "Bench Sender", From: from,
			To: fmt.Sprintf("client%d@customer.test", n%300), Subject: fmt.Sprintf("Offer %d", n), Date: time.Now(), Seed: n})
	}

	// One SMTP connection per worker, dialled on first use and after an error.
	measure := func(name string, conc int, tx func(c *smtp.Client) error) Result {
		conns := make([]*smtp.Client, conc)
		defer func() {
			for _, c := range conns {
				if c != nil {
					_ = c.Quit()
				}
			}
		}()
		return Run(ctx, IntakeGroup, name, conc, 1, cfg.Duration, func(ctx context.Context, w, i int) error {
			if conns[w] == nil {
				c, err := smtp.Dial(cfg.SMTPAddr)
				if err != nil {
					return err
				}
				if err := c.Hello("sightline-load.test"); err != nil {
					c.Close()
					return err
				}
				conns[w] = c
			}
			if err := tx(conns[w]); err != nil {
				conns[w].Close()
				conns[w] = nil
				return err
			}
			return nil
		})
	}
	accepted := func(c *smtp.Client) error {
		if err := c.Mail(from); err != nil {
			return fmt.Errorf("MAIL: %w", err)
		}
		if err := c.Rcpt(bcc); err != nil {
			return fmt.Errorf("RCPT: %w", err)
		}
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("DATA: %w", err)
		}
		if _, err := w.Write(msg()); err != nil {
			return fmt.Errorf("DATA: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("end of DATA: %w", err)
		}
		return nil
	}
	refused := func(c *smtp.Client) error {
		if err := c.Mail(from); err != nil {
			return fmt.Errorf("MAIL: %w", err)
		}
		err := c.Rcpt(unknown)
		if smtpReply(err) != 550 {
			return fmt.Errorf("RCPT to an unknown Smart Bcc address: %v, want a 550 reply", err)
		}
		if err := c.Reset(); err != nil {
			return fmt.Errorf("RSET: %w", err)
		}
		return nil
	}
	var out []Result
	for _, n := range bccConns {
		c, r := Paired(cfg.Runs, func() Result { return measure(nameBccCeil, n, refused) },
			func() Result { return measure(nameBcc, n, accepted) })
		c.Note = "MAIL FROM a verified address, RCPT TO an unknown token of the Smart Bcc domain (550), RSET"
		r.Note = "MAIL, RCPT TO the company's Smart Bcc address, DATA; each message ingested into the sender's mailbox"
		logf("intake: Smart Bcc at %d connection(s): %.0f msgs/s; refused at RCPT %.0f/s (%.0f%%)", n, r.Rate, c.Rate, 100*r.RateRatio)
		out = append(out, c, r)
	}
	return out
}
