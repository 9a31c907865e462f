package store_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sightline/sightline/services/mailbox/internal/store"
)

// The de-duplication lookups of ingest use the owner's indexes once the
// statistics know the company, and the mail tables are analyzed often
// enough for that (regression: for a company younger than the last ANALYZE
// they walked messages_pkey through every message of the company, so
// ingest slowed down as a new company's mailbox grew).
func TestIngestLookupsUseTheOwnersIndexes(t *testing.T) {
	_, pool := newStore(t, 2)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		INSERT INTO threads (company_id, id, owner_id, subject, subject_key, snippet, participant_keys, message_count,
			inbound_count, outbound_count, first_message_at, last_message_at, read, shared, smart_bcc, has_attachments)
		SELECT 1, g, 1 + g % 50, 's', 's', '', '{}', 1, 1, 0, now(), now(), false, false, false, false FROM generate_series(1, 50000) g;
		INSERT INTO messages (company_id, id, owner_id, thread_id, internet_message_id, content_hash, subject, addresses,
			message_at, snippet, body_text, body_html, attachments, has_attachments, size_bytes, outbound, seen, smart_bcc, folders)
		SELECT 1, g, 1 + g % 50, g, 'm' || g || '@x', md5(g::text), 's', '{}', now(), '', 'b', '', '[]', false, 1,
			false, false, false, '{}' FROM generate_series(1, 50000) g;
		ANALYZE;
		INSERT INTO threads (company_id, id, owner_id, subject, subject_key, snippet, participant_keys, message_count,
			inbound_count, outbound_count, first_message_at, last_message_at, read, shared, smart_bcc, has_attachments)
		SELECT 2, 100000 + g, 1, 's', 's', '', '{}', 1, 1, 0, now(), now(), false, false, false, false FROM generate_series(1, 10000) g;
		INSERT INTO messages (company_id, id, owner_id, thread_id, internet_message_id, content_hash, subject, addresses,
			message_at, snippet, body_text, body_html, attachments, has_attachments, size_bytes, outbound, seen, smart_bcc, folders)
		SELECT 2, 100000 + g, 1, 100000 + g, 'n' || g || '@x', md5('n' || g), 's', '{}', now(), '', 'b', '', '[]', false, 1,
			false, false, false, '{}' FROM generate_series(1, 10000) g;
		ANALYZE; -- what autovacuum does after 0.2% of changes (migration 006)`)
	if err != nil {
		t.Fatal(err)
	}
	// The statement ingest sends (store.lookupBatch), for company 2.
	if plan := explain(t, pool, store.DedupLookupSQL, int64(2), int64(1), "nope", "", []string{"a@x"}, ""); strings.Contains(plan, "messages_pkey") {
		t.Fatalf("a lookup walks messages_pkey:\n%s", plan)
	}
	var opts []string
	if err := pool.QueryRow(ctx, `SELECT reloptions FROM pg_class WHERE oid = 'messages'::regclass`).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(opts, ","), "autovacuum_analyze_scale_factor=0.002") {
		t.Fatalf("messages is analyzed at the default rate (reloptions %v)", opts)
	}
}

func explain(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `EXPLAIN `+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(l + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}

// Ingest's lookups go through the index of their key even for a company
// and users the statistics have never seen (regression: in the second and
// third 5,000-message syncs of make bench-intake, new users of one
// company, each lookup by content hash walked the company's messages
// through messages_by_thread or messages_pkey and a sync slowed from 3,472
// to 105 messages/s; autovacuum analyzes at most once a minute).
func TestLookupsIgnoreStaleStatistics(t *testing.T) {
	_, pool := newStore(t, 2)
	ctx := context.Background()
	threads := `INSERT INTO threads (company_id, id, owner_id, subject, subject_key, snippet, participant_keys,
			message_count, inbound_count, outbound_count, first_message_at, last_message_at, read, shared, smart_bcc,
			has_attachments)
		SELECT %[1]d, %[2]d + g, 1 + g %% %[3]d, 's', 'subject ' || (g %% 100), '', '{}', 1, 1, 0, now(), now(),
			false, false, false, false FROM generate_series(1, %[4]d) g;
		INSERT INTO messages (company_id, id, owner_id, thread_id, internet_message_id, content_hash, subject, addresses,
			message_at, snippet, body_text, body_html, attachments, has_attachments, size_bytes, outbound, seen, smart_bcc,
			folders)
		SELECT %[1]d, %[2]d + g, 1 + g %% %[3]d, %[2]d + g, 'c%[1]d-' || g || '@x', md5('c%[1]d-' || g), 's', '{}', now(),
			'', 'b', '', '[]', false, 1, false, false, false, '{}' FROM generate_series(1, %[4]d) g;
		INSERT INTO message_refs (company_id, owner_id, ref_id, message_id, thread_id)
		SELECT %[1]d, 1 + g %% %[3]d, 'c%[1]d-' || (g - 1) || '@x', %[2]d + g, %[2]d + g FROM generate_series(2, %[4]d) g;`
	// Company 1 is known to the planner; company 2 and its users arrive
	// after the last ANALYZE.
	if _, err := pool.Exec(ctx, fmt.Sprintf(threads, 1, 0, 50, 20000)+"ANALYZE;"+fmt.Sprintf(threads, 2, 100000, 2, 10000)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	from, to := now.Add(-48*time.Hour), now.Add(48*time.Hour)
	for _, q := range []struct {
		name, index, sql string
		args             []any
	}{
		{"one by one: content hash", "messages_by_hash", store.DedupLookupSQL,
			[]any{int64(2), int64(2), md5hex("c2-3"), "", []string{"c2-1@x"}, "c2-5@x"}},
		{"one by one: Message-ID", "messages_by_internet_id", store.DedupLookupSQL,
			[]any{int64(2), int64(2), md5hex("c2-3"), "", []string{"c2-1@x"}, "c2-5@x"}},
		{"one by one: references to it", "message_refs_pkey", store.DedupLookupSQL,
			[]any{int64(2), int64(2), md5hex("c2-3"), "", []string{"c2-1@x"}, "c2-5@x"}},
		{"one by one: subject", "threads_by_subject_key", store.SubjectLookupSQL,
			[]any{int64(2), int64(2), "subject 7", from, to, 50}},
		{"batch: content hash", "messages_by_hash", store.HashLookupSQL,
			[]any{int64(2), []int64{2, 1}, []string{md5hex("c2-2"), md5hex("c2-3")}}},
		{"batch: Message-ID", "messages_by_internet_id", store.RefLookupSQL,
			[]any{int64(2), []int64{2, 1}, []string{"c2-2@x", "c2-3@x"}}},
		{"batch: references to it", "message_refs_pkey", store.ReverseLookupSQL,
			[]any{int64(2), []int64{2, 1}, []string{"c2-2@x", "c2-3@x"}}},
		{"batch: subject", "threads_by_subject_key", store.CandidateLookupSQL,
			[]any{int64(2), []int32{0, 1}, []int64{2, 1}, []string{"subject 7", "subject 8"},
				[]time.Time{from, from}, []time.Time{to, to}, 50}},
	} {
		plan := explain(t, pool, q.sql, q.args...)
		if !strings.Contains(plan, q.index) {
			t.Errorf("%s: the lookup does not use %s:\n%s", q.name, q.index, plan)
		}
		for _, bad := range []string{"messages_pkey", "messages_by_thread", "messages_by_account", "message_refs_by_message",
			"threads_pkey", "threads_inbox", "threads_sent", "threads_archive", "Seq Scan on messages",
			"Seq Scan on message_refs", "Seq Scan on threads"} {
			if strings.Contains(plan, bad) {
				t.Errorf("%s: the lookup uses %s:\n%s", q.name, bad, plan)
			}
		}
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
