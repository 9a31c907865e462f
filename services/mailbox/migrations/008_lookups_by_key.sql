-- Ingest's lookups (de-duplication by content hash and by Message-ID, the
-- reverse references, the subject candidates) made independent of the
-- planner's statistics. For a company or a user younger than the last
-- ANALYZE (autovacuum looks at most once a minute) every index beginning
-- with (company_id, owner_id) is estimated at one row, the smallest index
-- wins the tie, and a lookup walked all of the user's or the company's
-- messages through messages_by_thread or messages_pkey: 1.4-5.4 ms per
-- lookup, 250 lookups per batch, in the second and third 5,000-message
-- syncs of `make bench-intake` (562 and 105 msgs/s after 3,472).
--
-- Each index now begins with the lookup's key, and the lookups name the
-- company in a form no index can use (company_id + 0), so the key's index
-- is the only one that can serve them whatever the statistics say
-- (TestLookupsIgnoreStaleStatistics). Other companies' rows with the same
-- key and owner number are filtered out by that condition.
CREATE INDEX messages_by_hash ON messages (content_hash, owner_id);
DROP INDEX messages_by_content_hash;
CREATE INDEX messages_by_internet_id ON messages (internet_message_id, owner_id)
    WHERE internet_message_id IS NOT NULL;
DROP INDEX messages_by_message_id;
ALTER TABLE message_refs DROP CONSTRAINT message_refs_pkey,
    ADD CONSTRAINT message_refs_pkey PRIMARY KEY (ref_id, owner_id, company_id, message_id);
CREATE INDEX threads_by_subject_key ON threads (subject_key, owner_id, last_message_at);
DROP INDEX threads_by_subject;

---- create above / drop below ----

CREATE INDEX threads_by_subject ON threads (company_id, owner_id, subject_key, last_message_at);
DROP INDEX threads_by_subject_key;
ALTER TABLE message_refs DROP CONSTRAINT message_refs_pkey,
    ADD CONSTRAINT message_refs_pkey PRIMARY KEY (company_id, owner_id, ref_id, message_id);
CREATE INDEX messages_by_message_id ON messages (company_id, owner_id, internet_message_id)
    WHERE internet_message_id IS NOT NULL;
DROP INDEX messages_by_internet_id;
CREATE INDEX messages_by_content_hash ON messages (company_id, owner_id, content_hash);
DROP INDEX messages_by_hash;
