-- The last failure of a two-way move (M6) at the provider, shown in the
-- account's sync status: a move given up after its attempts leaves the
-- message where it is at the provider, which the user should be able to see.
ALTER TABLE account_sync ADD COLUMN last_action_error text NOT NULL DEFAULT '',
    ADD COLUMN last_action_error_time timestamptz;

---- create above / drop below ----

ALTER TABLE account_sync DROP COLUMN last_action_error, DROP COLUMN last_action_error_time;
