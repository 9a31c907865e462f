-- Two-way sync mirrors unarchive too (M6): kind 3 moves a message that an
-- archive moved to the provider's archive back to its INBOX.
ALTER TABLE provider_actions DROP CONSTRAINT provider_actions_kind_check,
    ADD CONSTRAINT provider_actions_kind_check CHECK (kind IN (1, 2, 3));

---- create above / drop below ----

DELETE FROM provider_actions WHERE kind = 3;
ALTER TABLE provider_actions DROP CONSTRAINT provider_actions_kind_check,
    ADD CONSTRAINT provider_actions_kind_check CHECK (kind IN (1, 2));
