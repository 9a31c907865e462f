// Command sightline-load seeds data sets into running Sightline services and
// measures them over gRPC: rate, p50/p95/p99 and errors per scenario, each
// beside an empty unary call measured in the same run.
//
//	sightline-load --visibility-addr 127.0.0.1:50051 --auth-keys "$AUTH_KEYS" \
//	    --duration 10s --runs 3 --concurrency 1,8,32 --scales 1,10 --json bench/results.json
//
// With --runs N every scenario runs N times (each time beside its ceiling)
// and the figures reported are the medians; the JSON keeps every run.
//
// With --memory-companies N > 0 it first writes N companies of
// --memory-users users in --memory-groups groups through the API, has the
// visibility load them all, and reads its resident size before and after from
// --visibility-metrics (its Prometheus /metrics).
//
// With --mailbox-scale > 0 it also seeds a mailbox data set (1 = 10,000 users,
// 1,000,000 messages; the background volume with SQL through --database-url,
// the measured deal's 50 threads through the API) and measures the detail view
// of a deal (ListItemThreads), IngestMessage and BatchIngestMessages on
// --mailbox-addr.
//
// With --intake (the default) it measures mail intake (issue 5): the IMAP
// initial sync of --intake-messages messages that it APPENDs into a fresh
// folder of --imap-user on the Dovecot at --imap-addr (run-local's demo
// Dovecot), beside a raw go-imap fetch of that folder; new-mail-to-API
// latency under IDLE beside a raw IDLE client; Smart Bcc messages/s over
// SMTP to --smtp-addr beside transactions refused at RCPT. A missing
// Dovecot, IMAP sync or SMTP listener is reported as "unavailable", and is
// an error when --intake-required says it was expected (auto: Dovecot when
// a dovecot binary is installed, since run-local then starts it; SMTP always).
//
// With --soak D it then holds --soak-rate requests/s of a mix (decisions,
// detail views, sharing, ingest) for D on the data sets of this run (the
// first of --scales and --mailbox-scale) and reports requests and errors per
// kind, p50/p99 per --soak-bucket and the resident memory of both services
// (--visibility-metrics, --mailbox-metrics) at start and end. --soak-only
// seeds those data sets and runs the soak alone.
//
// It exits non-zero when any scenario that ran had errors. It only ever
// talks to the addresses it is given (loopback in `make bench`).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/jackc/pgx/v5"

	"github.com/sightline/sightline/bench/load"
	"github.com/sightline/sightline/pkg/auth"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sightline-load:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	visAddr := flag.String("visibility-addr", envOr("VIS_ADDR", "127.0.0.1:50051"), "visibility gRPC address (default $VIS_ADDR)")
	visMetrics := flag.String("visibility-metrics", envOr("VIS_METRICS_ADDR", "127.0.0.1:9091"), "visibility's Prometheus endpoint: host:port (GET /metrics) or a URL (default $VIS_METRICS_ADDR)")
	keys := flag.String("auth-keys", os.Getenv("AUTH_KEYS"), "signing key kid=hs256:base64 (the services' AUTH_KEYS)")
	duration := flag.Duration("duration", 10*time.Second, "measured time per scenario and run (plus a short warm-up)")
	runs := flag.Int("runs", 1, "runs of every scenario; the figures are the medians, the JSON keeps each run")
	conc := flag.String("concurrency", "1,8,32", "concurrencies for the single-call scenarios")
	scales := flag.String("scales", "1", "visibility data set sizes, in units of 1,000 users, 21 groups and 20,000 deals (0 or empty: none)")
	company := flag.Int64("company", time.Now().Unix()%1_000_000*10_000, "first company id to seed (fresh ids each run by default)")
	out := flag.String("json", "", "write the results as JSON to this file")
	memCompanies := flag.Int("memory-companies", 0, "memory scenario: companies to load into visibility (0: skip)")
	memUsers := flag.Int("memory-users", 100, "memory scenario: users per company")
	memGroups := flag.Int("memory-groups", 20, "memory scenario: groups per company, the default group included")
	mbAddr := flag.String("mailbox-addr", envOr("MAILBOX_ADDR", "127.0.0.1:50052"), "mailbox gRPC address (default $MAILBOX_ADDR)")
	mbScale := flag.Float64("mailbox-scale", 0, "mailbox data set size in units of 10,000 users and 1,000,000 messages (fractions allowed); 0: no mailbox scenarios")
	dbURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "the mailbox's database, for seeding its background volume with SQL (default $DATABASE_URL)")
	mbMetrics := flag.String("mailbox-metrics", envOr("MAILBOX_METRICS_ADDR", "127.0.0.1:9092"), "mailbox's Prometheus endpoint: host:port or a URL (default $MAILBOX_METRICS_ADDR)")
	intake := flag.Bool("intake", true, "run the intake scenarios (IMAP sync, IDLE latency, Smart Bcc)")
	imapAddr := flag.String("imap-addr", envOr("DEMO_IMAP_ADDR", "127.0.0.1:10143"), "intake: the Dovecot to fill, without TLS (default $DEMO_IMAP_ADDR: run-local's demo Dovecot)")
	imapUser := flag.String("imap-user", envOr("DEMO_IMAP_USER", "ada"), "intake: its user (default $DEMO_IMAP_USER)")
	imapPass := flag.String("imap-password", envOr("DEMO_IMAP_PASSWORD", "demo-password"), "intake: its password (default $DEMO_IMAP_PASSWORD)")
	smtpAddr := flag.String("smtp-addr", envOr("SMTP_ADDR", "127.0.0.1:2525"), "intake: the mailbox's Smart Bcc SMTP listener (default $SMTP_ADDR)")
	intakeMsgs := flag.Int("intake-messages", 5000, "intake: messages of the IMAP initial sync")
	intakeSamples := flag.Int("intake-samples", 30, "intake: new-mail-under-IDLE latency samples")
	intakeReq := flag.String("intake-required", "auto", "intake: whether a missing Dovecot / sync / SMTP listener is an error: yes, no, or auto (Dovecot when a dovecot binary is installed; SMTP always)")
	soak := flag.Duration("soak", 0, "after the scenarios, hold --soak-rate requests/s of a mixed load for this long (0: no soak)")
	soakRate := flag.Int("soak-rate", 200, "soak: requests per second, all kinds together")
	soakWorkers := flag.Int("soak-workers", 64, "soak: requests in flight at most (a request that no idle worker can take at its due time is counted as dropped; latency is timed from that due time)")
	soakBucket := flag.Duration("soak-bucket", time.Minute, "soak: width of the time series (p99 per bucket); shorter soaks use a tenth of --soak")
	soakOnly := flag.Bool("soak-only", false, "seed the data sets the soak needs and run the soak alone (no memory, no scenarios)")
	flag.Parse()
	began := time.Now()

	ks, err := auth.ParseKeys(*keys, true)
	if err != nil {
		return fmt.Errorf("--auth-keys: %w", err)
	}
	if *runs < 1 || *runs > 100 {
		return fmt.Errorf("--runs: %d (1 to 100)", *runs)
	}
	var concurrencies []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("--concurrency: %q", s)
		}
		concurrencies = append(concurrencies, n)
	}
	var scaleList []int
	for _, s := range strings.Split(*scales, ",") {
		if s = strings.TrimSpace(s); s == "" || s == "0" {
			continue // no visibility scenarios
		}
		scale, err := strconv.Atoi(s)
		if err != nil || scale < 1 || scale > 100 {
			return fmt.Errorf("--scales: %q", s)
		}
		scaleList = append(scaleList, scale)
	}
	if *mbScale < 0 || *mbScale > 10 {
		return fmt.Errorf("--mailbox-scale: %g (0 to 10)", *mbScale)
	}
	if *memCompanies < 0 || *memCompanies > 9000 || *memUsers < 2 || *memGroups < 1 {
		return fmt.Errorf("--memory-companies (0 to 9000), --memory-users (at least 2), --memory-groups (at least 1): %d, %d, %d", *memCompanies, *memUsers, *memGroups)
	}
	toURL := func(a string) string {
		if a != "" && !strings.Contains(a, "://") {
			return "http://" + a + "/metrics"
		}
		return a
	}
	metricsURL, mbMetricsURL := toURL(*visMetrics), toURL(*mbMetrics)
	if *soak > 0 && (len(scaleList) == 0 || *mbScale <= 0) {
		return fmt.Errorf("--soak needs a visibility data set (--scales) and a mailbox data set (--mailbox-scale)")
	}
	if *soakOnly && *soak <= 0 {
		return fmt.Errorf("--soak-only needs --soak")
	}
	if *soakOnly {
		*memCompanies, *intake = 0, false
	}
	requireIMAP, requireSMTP := false, false
	switch *intakeReq {
	case "yes":
		requireIMAP, requireSMTP = true, true
	case "no":
	case "auto":
		requireIMAP, requireSMTP = dovecotInstalled(), true
	default:
		return fmt.Errorf("--intake-required: %q (yes, no or auto)", *intakeReq)
	}
	if *intakeMsgs < 1 || *intakeMsgs > 100000 || *intakeSamples < 1 || *intakeSamples > 1000 {
		return fmt.Errorf("--intake-messages (1 to 100,000), --intake-samples (1 to 1,000): %d, %d", *intakeMsgs, *intakeSamples)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	conn, err := grpc.NewClient(*visAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()

	as := func(p auth.Principal) func(context.Context) context.Context {
		tok, err := auth.Mint(ks[0], p, 24*time.Hour)
		if err != nil {
			panic(err)
		}
		return func(ctx context.Context) context.Context {
			return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		}
	}
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	rep := load.Report{Machine: load.ThisMachine(), Config: load.Config{Args: os.Args[1:], Duration: duration.String(), Runs: *runs,
		Concurrency: concurrencies, Scales: scaleList, MailboxScale: *mbScale}}
	var soakVis *load.VisibilitySet
	var soakUser func(context.Context, int64) context.Context

	// Memory first, while the visibility holds nothing else of this run.
	if *memCompanies > 0 {
		first := *company + 1000
		logf("memory: writing %d companies x %d users x %d groups through the API (ids %d..%d)", *memCompanies, *memUsers, *memGroups,
			first, first+int64(*memCompanies)-1)
		m := load.MemoryScenario(ctx, conn, metricsURL, first, *memCompanies, *memUsers, *memGroups,
			func(ctx context.Context, c int64) context.Context {
				return as(auth.Principal{Kind: auth.KindService, CompanyID: c, Service: "sightline-load"})(ctx)
			},
			func(ctx context.Context, c, u int64) context.Context {
				return as(auth.Principal{Kind: auth.KindUser, CompanyID: c, UserID: u})(ctx)
			}, logf)
		rep.Memory = &m
		rep.Seeding = append(rep.Seeding, load.Seeding{DataSet: fmt.Sprintf("memory: %s companies × %d users × %d groups", load.Thousands(m.Companies), m.UsersPerCompany, m.GroupsPerCompany),
			Seconds: m.SeedSeconds, Calls: m.Calls, Note: fmt.Sprintf("through the API, %d companies at a time", 8)})
		logf("memory: %d companies seeded in %.1fs (%d calls), loaded in %.1fs; RSS %.1f -> %.1f MiB (%.1f KiB per company), heap in use %.1f -> %.1f MiB, %g companies loaded",
			m.Companies, m.SeedSeconds, m.Calls, m.LoadSeconds, m.Before.RSSBytes/(1<<20), m.After.RSSBytes/(1<<20), m.RSSPerCompany/1024,
			m.Before.HeapInuseBytes/(1<<20), m.After.HeapInuseBytes/(1<<20), m.After.CompaniesLoaded)
		if m.FirstErr != "" {
			logf("memory: error: %s", m.FirstErr)
		}
	}

	for i, scale := range scaleList {
		cid := *company + int64(i)
		t0 := time.Now()
		set, err := load.SeedVisibility(ctx, conn, as(auth.Principal{Kind: auth.KindService, CompanyID: cid, Service: "sightline-load"}), cid, scale)
		if err != nil {
			return fmt.Errorf("seed visibility x%d: %w", scale, err)
		}
		took := time.Since(t0)
		rep.Seeding = append(rep.Seeding, load.Seeding{DataSet: fmt.Sprintf("visibility x%d: %s users, %s groups (and the default group), %s deals", scale,
			load.Thousands(set.Users), load.Thousands(set.Groups), load.Thousands(set.Deals)),
			Seconds: took.Seconds(), Calls: set.Calls, Note: "through the API: deals in batches of 1,000, the rest 8 calls in flight", Phases: set.Phases})
		for _, ph := range set.Phases {
			logf("  %s: %.1fs, %d calls", ph.Name, ph.Seconds, ph.Calls)
		}
		logf("seeded company %d: %d users, %d groups, %d deals in %s (%d API calls)", cid, set.Users, set.Groups+1, set.Deals, took.Round(time.Millisecond), set.Calls)
		user := func(ctx context.Context, id int64) context.Context {
			return as(auth.Principal{Kind: auth.KindUser, CompanyID: cid, UserID: id})(ctx)
		}
		if soakVis == nil {
			soakVis, soakUser = set, user
		}
		if !*soakOnly {
			rep.Results = append(rep.Results, load.VisibilityScenarios(ctx, conn, set, user, *duration, *runs, concurrencies)...)
		}
	}

	// One mailbox connection for the mailbox scenarios, intake and the soak.
	var mconn *grpc.ClientConn
	if *mbScale > 0 || *intake {
		mconn, err = grpc.NewClient(*mbAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer mconn.Close()
	}
	var mset *load.MailboxSet // the mailbox data set, for the soak
	var msvc func(context.Context) context.Context
	var muser func(context.Context, int64) context.Context
	if *mbScale > 0 {
		if *dbURL == "" {
			return fmt.Errorf("--mailbox-scale needs --database-url (or $DATABASE_URL) for seeding the background volume")
		}
		dbcfg, err := pgx.ParseConfig(*dbURL)
		if err != nil {
			return fmt.Errorf("--database-url: %w", err)
		}
		dbcfg.RuntimeParams["search_path"] = "mailbox" // the mailbox service's schema
		dbcfg.RuntimeParams["application_name"] = "sightline-load"
		db, err := pgx.ConnectConfig(ctx, dbcfg)
		if err != nil {
			return fmt.Errorf("--database-url: %w", err)
		}
		defer db.Close(context.WithoutCancel(ctx))
		cid := *company + 999 // after the visibility companies, before the memory ones
		svc := as(auth.Principal{Kind: auth.KindService, CompanyID: cid, Service: "sightline-load"})
		user := func(ctx context.Context, id int64) context.Context {
			return as(auth.Principal{Kind: auth.KindUser, CompanyID: cid, UserID: id})(ctx)
		}
		t0 := time.Now()
		set, err := load.SeedMailbox(ctx, conn, mconn, db, svc, user, cid, *mbScale, logf)
		if err != nil {
			return fmt.Errorf("seed mailbox x%g: %w", *mbScale, err)
		}
		mset, msvc, muser = set, svc, user
		took := time.Since(t0)
		rep.Seeding = append(rep.Seeding, load.Seeding{DataSet: fmt.Sprintf("mailbox x%g: %s users, %s messages", *mbScale, load.Thousands(set.Users), load.Thousands(set.Messages)),
			Seconds: took.Seconds(), Note: fmt.Sprintf("background volume with SQL into the mailbox schema; the deal's %d threads through the API", set.DealThreads)})
		logf("seeded mailbox company %d in %s: background %d users / %d threads / %d messages seeded with SQL directly "+
			"into the mailbox schema (not through the API); deal %d's %d threads ingested and shared through the API",
			cid, took.Round(time.Millisecond), set.Users, set.Threads, set.Messages, set.Deal, set.DealThreads)
		if !*soakOnly {
			rep.Results = append(rep.Results, load.MailboxScenarios(ctx, mconn, set, svc, user, *duration, *runs)...)
		}
	}

	// Intake after the mailbox scenarios (with or without a mailbox data set), before the soak.
	if *intake {
		rep.Results = append(rep.Results, runIntake(ctx, conn, mconn, as, load.IntakeConfig{Company: *company + 998,
			IMAPAddr: *imapAddr, IMAPUser: *imapUser, IMAPPassword: *imapPass, SMTPAddr: *smtpAddr, Messages: *intakeMsgs,
			Samples: *intakeSamples, Duration: *duration, Runs: *runs, RequireIMAP: requireIMAP, RequireSMTP: requireSMTP}, logf)...)
	}

	if *soak > 0 { // checked above: there is a visibility and a mailbox data set
		bucket := *soakBucket
		if *soak < 10*bucket {
			bucket = max(*soak/10, time.Second)
		}
		res, err := load.Soak(ctx, conn, mconn, soakVis, mset, msvc, soakUser, muser, load.SoakConfig{Duration: *soak, Rate: *soakRate,
			Bucket: bucket, Workers: *soakWorkers, VisibilityMetrics: metricsURL, MailboxMetrics: mbMetricsURL}, logf)
		if err != nil {
			return fmt.Errorf("soak: %w", err)
		}
		rep.Soak = res
		printSoak(res)
	}

	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconc\tstatus\trequests (all runs)\terrors (all runs)\trate/s\tunits/s\tp50 ms\tp95 ms\tp99 ms\trate vs ceiling\tp99 vs ceiling\t")
	for _, r := range rep.Results {
		if r.Status != load.StatusOK || (r.Requests == 1 && r.Errors == 1) {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\t%d\t\t\t\t\t\t\t\t\n", r.Scenario, r.Concurrency, r.Status, r.Errors)
			continue
		}
		ratio, p99 := "", ""
		if r.Ceiling != "" {
			ratio, p99 = fmt.Sprintf("%.0f%%", 100*r.RateRatio), fmt.Sprintf("%.2fx", r.P99Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%s\t%s\t\n", r.Scenario, r.Concurrency, r.Status, r.Requests, r.Errors,
			r.Rate, r.UnitRate, r.P50ms, r.P95ms, r.P99ms, ratio, p99)
	}
	tw.Flush()
	failed := 0
	for _, r := range rep.Results {
		switch {
		case r.Failed():
			failed++
			logf("%s@%d: %d errors; first: %s", r.Scenario, r.Concurrency, r.Errors, r.FirstErr)
		case r.Status == load.StatusUnavailable:
			logf("%s: NOT MEASURED (unavailable): %s", r.Scenario, r.Note)
		}
	}
	if rep.Memory != nil && rep.Memory.Errors > 0 {
		failed++
	}
	if rep.Soak != nil && rep.Soak.Errors > 0 {
		failed++
		logf("soak: %d errors of %d requests; first: %s", rep.Soak.Errors, rep.Soak.Requests, rep.Soak.FirstErr)
	}
	rep.Time = time.Now().UTC().Format(time.RFC3339)
	rep.ElapsedSeconds = time.Since(began).Seconds()
	logf("took %s", time.Since(began).Round(time.Second))
	if *out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d scenarios had errors", failed)
	}
	return nil
}

// dovecotInstalled reports whether a dovecot binary is on this machine:
// scripts/run-local.sh then starts its demo Dovecot, so the IMAP intake
// scenarios are expected to run.
func dovecotInstalled() bool {
	if _, err := exec.LookPath("dovecot"); err == nil {
		return true
	}
	_, err := os.Stat("/usr/sbin/dovecot")
	return err == nil
}

func runIntake(ctx context.Context, conn, mconn *grpc.ClientConn, as func(auth.Principal) func(context.Context) context.Context,
	cfg load.IntakeConfig, logf func(string, ...any)) []load.Result {
	svc := as(auth.Principal{Kind: auth.KindService, CompanyID: cfg.Company, Service: "sightline-load"})
	user := func(ctx context.Context, id int64) context.Context {
		return as(auth.Principal{Kind: auth.KindUser, CompanyID: cfg.Company, UserID: id})(ctx)
	}
	logf("intake: company %d, Dovecot %s (user %s), Smart Bcc SMTP %s; required: IMAP %v, SMTP %v", cfg.Company, cfg.IMAPAddr, cfg.IMAPUser,
		cfg.SMTPAddr, cfg.RequireIMAP, cfg.RequireSMTP)
	t0 := time.Now()
	out := load.IntakeScenarios(ctx, conn, mconn, cfg, svc, user, logf)
	logf("intake: took %s", time.Since(t0).Round(time.Second))
	return out
}

func printSoak(s *load.SoakResult) {
	fmt.Printf("\nsoak: %s at %d requests/s (achieved %.1f/s, %d dropped): %d requests, %d errors, p50 %.3f ms, p99 %.3f ms\n",
		s.Duration, s.TargetRate, s.AchievedRate, s.Dropped, s.Requests, s.Errors, s.P50ms, s.P99ms)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tgroup\tweight\trequests\terrors\tp50 ms\tp99 ms\t")
	for _, k := range s.Kinds {
		fmt.Fprintf(tw, "%s\t%s\t%d%%\t%d\t%d\t%.3f\t%.3f\t\n", k.Name, k.Group, k.Weight, k.Requests, k.Errors, k.P50ms, k.P99ms)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "from s\trequests\terrors\tp50 ms\tp99 ms\t")
	for _, g := range load.SoakGroups {
		fmt.Fprintf(tw, "p99 %s\t", g)
	}
	fmt.Fprintln(tw, "visibility RSS MiB\tmailbox RSS MiB\t")
	for _, b := range s.Buckets {
		fmt.Fprintf(tw, "%.0f\t%d\t%d\t%.3f\t%.3f\t", b.StartSeconds, b.Requests, b.Errors, b.P50ms, b.P99ms)
		for _, g := range load.SoakGroups {
			fmt.Fprintf(tw, "%.3f\t", b.GroupP99ms[g])
		}
		fmt.Fprintf(tw, "%.1f\t%.1f\t\n", b.VisibilityRSS/(1<<20), b.MailboxRSS/(1<<20))
	}
	tw.Flush()
	fmt.Printf("RSS start -> end: visibility %.1f -> %.1f MiB, mailbox %.1f -> %.1f MiB\n\n",
		s.VisibilityRSS.Start/(1<<20), s.VisibilityRSS.End/(1<<20), s.MailboxRSS.Start/(1<<20), s.MailboxRSS.End/(1<<20))
}
