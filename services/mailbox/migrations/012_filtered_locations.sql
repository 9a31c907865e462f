-- Locations of UIDs the known-contacts filter (S1) left out: when the user
-- turns the filter off they are forgotten, so that the initial sync, run
-- again, fetches that mail. Other locations without a message (deleted
-- here, trashed, too large) stay.
ALTER TABLE message_locations ADD COLUMN filtered boolean NOT NULL DEFAULT false;

---- create above / drop below ----

ALTER TABLE message_locations DROP COLUMN filtered;
