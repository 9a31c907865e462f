-- A deleted message's locations stay, with message_id NULL (the migration
-- 004 meaning: a UID looked at and not stored here), instead of going with
-- the message: a UID without a location is one the sync has still to
-- fetch, so a thread deleted while a folder's initial sync was unfinished
-- came back at its next pass.
ALTER TABLE message_locations DROP CONSTRAINT message_locations_company_id_message_id_fkey,
    ADD CONSTRAINT message_locations_company_id_message_id_fkey FOREIGN KEY (company_id, message_id)
        REFERENCES messages ON DELETE SET NULL (message_id);

---- create above / drop below ----

ALTER TABLE message_locations DROP CONSTRAINT message_locations_company_id_message_id_fkey,
    ADD CONSTRAINT message_locations_company_id_message_id_fkey FOREIGN KEY (company_id, message_id)
        REFERENCES messages ON DELETE CASCADE;
