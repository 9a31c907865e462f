// Command mailbox runs the mailbox service: each user's email inside the CRM
// (DESIGN M1–M7, S1–S6). See `mailbox -h`.
package main

import (
	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/services/mailbox"
)

func main() { cli.Main(mailbox.Service()) }
