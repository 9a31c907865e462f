-- Keep the planner's statistics of the big mail tables fresh. With the
-- default scale factor (10%) a table of 1,000,000 messages is analyzed
-- again only after 100,000 changes, so a company that started since is
-- unknown to the planner: its row estimate is 1, every index beginning with
-- company_id looks as cheap as another, and ingest's de-duplication lookups
-- were seen walking messages_pkey through all of that company's messages
-- (620 ms per lookup at 16,665 messages). Analyzing after ~0.2% of changes
-- (2,000 rows at 1,000,000) keeps new companies known.
ALTER TABLE messages SET (autovacuum_analyze_scale_factor = 0.002, autovacuum_analyze_threshold = 1000);
ALTER TABLE threads SET (autovacuum_analyze_scale_factor = 0.002, autovacuum_analyze_threshold = 1000);
ALTER TABLE thread_participants SET (autovacuum_analyze_scale_factor = 0.002, autovacuum_analyze_threshold = 1000);
ALTER TABLE message_refs SET (autovacuum_analyze_scale_factor = 0.002, autovacuum_analyze_threshold = 1000);

---- create above / drop below ----

ALTER TABLE messages RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE threads RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE thread_participants RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE message_refs RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
