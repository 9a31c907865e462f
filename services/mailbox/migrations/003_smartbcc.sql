-- Smart Bcc (S4): each company's address <token>@<smartbcc domain>. The token
-- is random (not guessable from the company id) and created on first use by
-- GetSmartBccAddress; the SMTP listener resolves recipients by it.
CREATE TABLE smartbcc_addresses (
    company_id  bigint      PRIMARY KEY,
    token       text        NOT NULL UNIQUE CHECK (token = lower(token) AND token ~ '^[a-z0-9]{8,64}$'),
    create_time timestamptz NOT NULL DEFAULT now()
);
-- The sender check (UserByAddress) uses mail_accounts_by_email and
-- user_addresses_by_email (002).
