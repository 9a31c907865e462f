package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/sightline/sightline/pkg/auth"
	"github.com/sightline/sightline/pkg/config"
)

// tokenCommand mints a token for local use:
//
//	visibility token --company 1 --user 42
//	visibility token --company 1 --service crm-backend --ttl 1h
func tokenCommand(name string, fs *flag.FlagSet, stdout io.Writer) *ffcli.Command {
	var (
		keySpec  = fs.String("signing-key", os.Getenv("SIGNING_KEY"), "signing key kid=hs256:base64 or kid=ed25519:base64seed (default $SIGNING_KEY, else AUTH_KEYS when it holds exactly one hs256 key)")
		authKeys = fs.String("auth-keys", os.Getenv("AUTH_KEYS"), "the service's verification keys (default $AUTH_KEYS); used when --signing-key is empty")
		company  = fs.Int64("company", 0, "company id (required)")
		user     = fs.Int64("user", 0, "user id (a user principal)")
		service  = fs.String("service", "", "service name (a service principal)")
		ttl      = fs.Duration("ttl", 12*time.Hour, "validity")
		asHeader = fs.Bool("header", false, `print "authorization: Bearer <token>" instead of the bare token`)
	)
	return &ffcli.Command{
		Name: "token", ShortUsage: name + " token --company N (--user N | --service NAME) [flags]",
		// Only AUTH_KEYS and SIGNING_KEY come from the environment: reading every
		// flag from it would take --user from the shell's $USER.
		ShortHelp: "mint a bearer token for local use", FlagSet: fs,
		Exec: func(context.Context, []string) error {
			spec := *keySpec
			if spec == "" {
				spec = *authKeys
			}
			if spec == "" {
				return &usageError{config.Invalid("signing-key", "required (or set AUTH_KEYS with one hs256 key)")}
			}
			keys, err := auth.ParseKeys(spec, true)
			if err != nil {
				return &usageError{config.Invalid("signing-key", "%v", err)}
			}
			if *keySpec == "" && (len(keys) != 1 || keys[0].Method.Alg() != "HS256") {
				return &usageError{config.Invalid("signing-key", "AUTH_KEYS does not hold exactly one hs256 key; name the signing key with --signing-key")}
			}
			p := auth.Principal{CompanyID: *company}
			switch {
			case *user > 0 && *service == "":
				p.Kind, p.UserID = auth.KindUser, *user
			case *service != "" && *user == 0:
				p.Kind, p.Service = auth.KindService, *service
			default:
				return &usageError{fmt.Errorf("give exactly one of --user or --service")}
			}
			if *company <= 0 {
				return &usageError{config.Invalid("company", "required")}
			}
			tok, err := auth.Mint(keys[0], p, *ttl)
			if err != nil {
				return err
			}
			if *asHeader {
				fmt.Fprintf(stdout, "authorization: Bearer %s\n", tok)
			} else {
				fmt.Fprintln(stdout, tok)
			}
			return nil
		},
	}
}
