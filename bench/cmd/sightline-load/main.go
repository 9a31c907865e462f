// Command sightline-load seeds data sets into running Sightline services and
// measures them over gRPC: rate, p50/p95/p99 and errors per scenario, each
// beside an empty unary call measured in the same run.
//
//	sightline-load --visibility-addr 127.0.0.1:50051 --auth-keys "$AUTH_KEYS" \
//	    --duration 10s --concurrency 1,8,32 --scales 1 --json bench/results.json
//
// With --mailbox-scale > 0 it also seeds a mailbox data set (1 = 10,000 users,
// 1,000,000 messages; the background volume with SQL through --database-url,
// the measured deal's 50 threads through the API) and measures the detail view
// of a deal (ListItemThreads) and IngestMessage on --mailbox-addr.
//
// It only ever talks to the addresses it is given (loopback in `make bench`).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
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
	keys := flag.String("auth-keys", os.Getenv("AUTH_KEYS"), "signing key kid=hs256:base64 (the services' AUTH_KEYS)")
	duration := flag.Duration("duration", 10*time.Second, "measured time per scenario (plus a short warm-up)")
	conc := flag.String("concurrency", "1,8,32", "concurrencies for the single-call scenarios")
	scales := flag.String("scales", "1", "visibility data set sizes, in units of 1,000 users and 20,000 deals")
	company := flag.Int64("company", time.Now().Unix()%1000000*100, "first company id to seed (fresh ids each run by default)")
	out := flag.String("json", "", "write the results as JSON to this file")
	mbAddr := flag.String("mailbox-addr", envOr("MAILBOX_ADDR", "127.0.0.1:50052"), "mailbox gRPC address (default $MAILBOX_ADDR)")
	mbScale := flag.Float64("mailbox-scale", 0, "mailbox data set size in units of 10,000 users and 1,000,000 messages (fractions allowed); 0: no mailbox scenarios")
	dbURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "the mailbox's database, for seeding its background volume with SQL (default $DATABASE_URL)")
	flag.Parse()

	ks, err := auth.ParseKeys(*keys, true)
	if err != nil {
		return fmt.Errorf("--auth-keys: %w", err)
	}
	var concurrencies []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("--concurrency: %q", s)
		}
		concurrencies = append(concurrencies, n)
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
	var results []load.Result
	for i, s := range strings.Split(*scales, ",") {
		if strings.TrimSpace(s) == "" || strings.TrimSpace(s) == "0" {
			continue // no visibility scenarios
		}
		scale, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || scale < 1 || scale > 100 {
			return fmt.Errorf("--scales: %q", s)
		}
		cid := *company + int64(i)
		t0 := time.Now()
		set, err := load.SeedVisibility(ctx, conn, as(auth.Principal{Kind: auth.KindService, CompanyID: cid, Service: "sightline-load"}), cid, scale)
		if err != nil {
			return fmt.Errorf("seed visibility x%d: %w", scale, err)
		}
		fmt.Fprintf(os.Stderr, "seeded company %d: %d users, %d deals in %s\n", cid, set.Users, set.Deals, time.Since(t0).Round(time.Millisecond))
		user := func(ctx context.Context, id int64) context.Context {
			return as(auth.Principal{Kind: auth.KindUser, CompanyID: cid, UserID: id})(ctx)
		}
		results = append(results, load.VisibilityScenarios(ctx, conn, set, user, *duration, concurrencies)...)
	}

	if *mbScale < 0 || *mbScale > 10 {
		return fmt.Errorf("--mailbox-scale: %g (0 to 10)", *mbScale)
	}
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
		mconn, err := grpc.NewClient(*mbAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer mconn.Close()
		cid := *company + 99 // after the visibility companies
		svc := as(auth.Principal{Kind: auth.KindService, CompanyID: cid, Service: "sightline-load"})
		user := func(ctx context.Context, id int64) context.Context {
			return as(auth.Principal{Kind: auth.KindUser, CompanyID: cid, UserID: id})(ctx)
		}
		logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
		t0 := time.Now()
		set, err := load.SeedMailbox(ctx, conn, mconn, db, svc, user, cid, *mbScale, logf)
		if err != nil {
			return fmt.Errorf("seed mailbox x%g: %w", *mbScale, err)
		}
		logf("seeded mailbox company %d in %s: background %d users / %d threads / %d messages seeded with SQL directly "+
			"into the mailbox schema (not through the API); deal %d's %d threads ingested and shared through the API",
			cid, time.Since(t0).Round(time.Millisecond), set.Users, set.Threads, set.Messages, set.Deal, set.DealThreads)
		results = append(results, load.MailboxScenarios(ctx, mconn, set, svc, user, *duration)...)
	}

	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconc\trequests\terrors\trate/s\tunits/s\tp50 ms\tp95 ms\tp99 ms\trate vs ceiling\tp99 vs ceiling\t")
	for _, r := range results {
		ratio, p99 := "", ""
		if r.Ceiling != "" {
			ratio, p99 = fmt.Sprintf("%.0f%%", 100*r.RateRatio), fmt.Sprintf("%.2fx", r.P99Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%s\t%s\t\n", r.Scenario, r.Concurrency, r.Requests, r.Errors,
			r.Rate, r.UnitRate, r.P50ms, r.P95ms, r.P99ms, ratio, p99)
	}
	tw.Flush()
	errors := 0
	for _, r := range results {
		errors += r.Errors
		if r.FirstErr != "" {
			fmt.Fprintf(os.Stderr, "%s@%d: first error: %s\n", r.Scenario, r.Concurrency, r.FirstErr)
		}
	}
	if *out != "" {
		b, _ := json.MarshalIndent(map[string]any{"time": time.Now().UTC().Format(time.RFC3339), "results": results}, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
	}
	if errors > 0 {
		return fmt.Errorf("%d requests failed", errors)
	}
	return nil
}
