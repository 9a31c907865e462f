// Command sightline-demo seeds the demo company of `make run` through the
// services' gRPC APIs and prints ready-made grpcurl commands for the stories
// of the README's walkthrough.
//
//	sightline-demo --auth-keys-file .local/auth-keys --imap-addr 127.0.0.1:10143
//
// It is idempotent: every run brings company 1 to the same state (plan,
// groups, users, pipelines, items, contact index, Ada's settings, account and
// mail) and adds nothing twice. With --imap-addr it first APPENDs Ada's demo
// mail to that IMAP server (the local Dovecot) and connects her account to it,
// so the mailbox's IMAP sync finds it; in every case it also ingests the same
// messages through IngestMessage, which deduplicates by Message-ID and content,
// so synced and ingested copies are one message.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sightline/sightline/pkg/auth"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sightline-demo: error:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type config struct {
	visAddr, mbAddr string
	key             auth.Key
	imapAddr        string // where the seeder APPENDs; "" = no IMAP server
	accountIMAP     string // host:port stored on Ada's account (as the mailbox service reaches it)
	imapUser        string
	imapPass        string
	commands        io.Writer
	showVis, showMB string // the addresses printed in the commands
	timeout         time.Duration
}

func run() error {
	var (
		visAddr     = flag.String("visibility-addr", envOr("VIS_ADDR", "127.0.0.1:50051"), "visibility gRPC address (default $VIS_ADDR)")
		mbAddr      = flag.String("mailbox-addr", envOr("MAILBOX_ADDR", "127.0.0.1:50052"), "mailbox gRPC address (default $MAILBOX_ADDR)")
		keys        = flag.String("auth-keys", os.Getenv("AUTH_KEYS"), "token signing key kid=hs256:base64 (default $AUTH_KEYS)")
		keysFile    = flag.String("auth-keys-file", os.Getenv("AUTH_KEYS_FILE"), "file holding the signing key, used when --auth-keys is empty (default $AUTH_KEYS_FILE)")
		imapAddr    = flag.String("imap-addr", os.Getenv("DEMO_IMAP_ADDR"), "IMAP server (plaintext, loopback) to fill with Ada's demo mail; empty: none, mail is only ingested (default $DEMO_IMAP_ADDR)")
		accountIMAP = flag.String("account-imap-addr", os.Getenv("DEMO_ACCOUNT_IMAP_ADDR"), "host:port of that server as the mailbox service reaches it (default: --imap-addr)")
		imapUser    = flag.String("imap-user", envOr("DEMO_IMAP_USER", "ada"), "IMAP login of Ada's mailbox")
		imapPass    = flag.String("imap-password", envOr("DEMO_IMAP_PASSWORD", "demo-password"), "IMAP password of Ada's mailbox (a demo secret)")
		out         = flag.String("commands-file", "", "write the ready-made grpcurl commands here instead of standard output")
		showVis     = flag.String("show-visibility-addr", os.Getenv("DEMO_SHOW_VIS_ADDR"), "visibility's address in the printed commands (default: --visibility-addr)")
		showMB      = flag.String("show-mailbox-addr", os.Getenv("DEMO_SHOW_MAILBOX_ADDR"), "mailbox's address in the printed commands (default: --mailbox-addr)")
		timeout     = flag.Duration("timeout", 2*time.Minute, "give up after this long")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	spec := *keys
	if spec == "" && *keysFile != "" {
		b, err := os.ReadFile(*keysFile)
		if err != nil {
			return fmt.Errorf("--auth-keys-file: %w", err)
		}
		spec = strings.TrimSpace(string(b))
	}
	if spec == "" {
		return errors.New("no signing key: set --auth-keys ($AUTH_KEYS) or --auth-keys-file ($AUTH_KEYS_FILE)")
	}
	ks, err := auth.ParseKeys(spec, true)
	if err != nil {
		return fmt.Errorf("auth keys: %w", err)
	}
	cfg := config{visAddr: *visAddr, mbAddr: *mbAddr, key: ks[0], imapAddr: *imapAddr, accountIMAP: *accountIMAP,
		imapUser: *imapUser, imapPass: *imapPass, commands: os.Stdout, timeout: *timeout, showVis: *showVis, showMB: *showMB}
	if cfg.showVis == "" {
		cfg.showVis = cfg.visAddr
	}
	if cfg.showMB == "" {
		cfg.showMB = cfg.mbAddr
	}
	if cfg.accountIMAP == "" {
		cfg.accountIMAP = cfg.imapAddr
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.commands = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	t0 := time.Now()
	s, err := newSeeder(cfg)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.seed(ctx); err != nil {
		return err
	}
	logf("seeded the demo company %d in %s", demoCompany, time.Since(t0).Round(time.Millisecond))
	return s.printCommands(cfg.commands)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sightline-demo: "+format+"\n", args...)
}
