package main

import (
	"fmt"
	"io"
	"strings"
)

// printCommands writes the tokens and a grpcurl command per story, with the
// real thread ids filled in. The README's walkthrough tells the same stories.
func (s *seeder) printCommands(w io.Writer) error {
	names := map[int64]string{0: "SVC"}
	for _, u := range users {
		names[u.id] = strings.ToUpper(u.login)
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	vis := func(tok, body, method string) {
		p(`  grpcurl -plaintext -H "authorization: Bearer $%s" -d '%s' %s sightline.visibility.v1.VisibilityService/%s`, tok, body, s.cfg.showVis, method)
	}
	mb := func(tok, body, method string) {
		p(`  grpcurl -plaintext -H "authorization: Bearer $%s" -d '%s' %s sightline.mailbox.v1.MailboxService/%s`, tok, body, s.cfg.showMB, method)
	}
	globex, initech := s.threads[subjGlobex], s.threads[subjInitech]

	p("Demo company %d (Northwind Traders, plan enterprise). Groups: Sales > {Sales EMEA > Sales DACH, Sales Americas}.", demoCompany)
	p("  Ada Lovelace (user 1, Sales EMEA) owns deals 101 Globex and 102 Initech and has %d messages in INBOX and Sent;", len(messages))
	p("  Bruno Keller (2, Sales DACH), Chloé Martin (3, Sales EMEA), Diego Ramírez (4, Sales Americas: pipeline 3 hidden),")
	p("  Erin Walsh (5, Sales: head of sales), Grace Hopper (6, app admin), Frank Moreau (7, deal admin).")
	if s.synced {
		p("  Ada's mail account is connected to the demo Dovecot at %s (login %s, password %s).", s.cfg.accountIMAP, s.cfg.imapUser, s.cfg.imapPass)
	} else {
		p("  No demo IMAP server: Ada's mail was ingested directly (no connected account).")
	}
	p("")
	p("Tokens (valid 12h) for the stories below; README.md \"Walkthrough\" explains each step:")
	for _, id := range []int64{0, ada, bruno, chloe, diego, erin, grace, frank} {
		p("  export %s=%s", names[id], s.tokens[id])
	}
	p("")
	p("# Who can see deal 101 and why (V3, V10)")
	vis("GRACE", `{"item":{"type":"ITEM_TYPE_DEAL","id":101}}`, "ListItemViewers")
	vis("SVC", `{"user_id":2,"item":{"type":"ITEM_TYPE_DEAL","id":101}}`, "ExplainAccess")
	vis("SVC", `{"user_id":4,"item":{"type":"ITEM_TYPE_DEAL","id":103}}`, "ExplainAccess")
	p("# The filter for Diego's deal list, to use in your own SQL")
	vis("DIEGO", `{"item_type":"ITEM_TYPE_DEAL"}`, "LookupAccessFilter")
	p("# Ada's inbox, and the Globex deal as Chloé sees it (M1, M2)")
	mb("ADA", `{"folder":"FOLDER_INBOX"}`, "ListThreads")
	mb("CHLOE", `{"item":{"type":"ITEM_TYPE_DEAL","id":101}}`, "ListItemThreads")
	p("# Share the private Initech thread (%d) and see it on deal 102 as Bruno; make it private again (M2, M3)", initech)
	mb("ADA", fmt.Sprintf(`{"thread_ids":[%d]}`, initech), "ShareThreads")
	mb("BRUNO", `{"item":{"type":"ITEM_TYPE_DEAL","id":102}}`, "ListItemThreads")
	mb("ADA", fmt.Sprintf(`{"thread_ids":[%d]}`, initech), "UnshareThreads")
	p("# Archive the Globex thread (%d): gone from Ada's inbox, still on the deal; unarchive it (M6)", globex)
	mb("ADA", fmt.Sprintf(`{"thread":{"id":%d,"archived":true},"update_mask":{"paths":["archived"]}}`, globex), "UpdateThread")
	mb("ADA", fmt.Sprintf(`{"thread":{"id":%d,"archived":false},"update_mask":{"paths":["archived"]}}`, globex), "UpdateThread")
	p("# Reply: Chloé was in Cc (allowed); Erin can read it on the deal but took no part (refused) (M5)")
	mb("CHLOE", fmt.Sprintf(`{"thread_id":%d}`, globex), "CheckReplyPermission")
	mb("ERIN", fmt.Sprintf(`{"thread_id":%d}`, globex), "CheckReplyPermission")
	p("# All of it, checked: scripts/walkthrough.sh (make walkthrough)")
	_, err := io.WriteString(w, b.String())
	return err
}
