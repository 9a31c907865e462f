-- Each user's mail preferences (DESIGN M4 default sharing, M6 two-way sync).
-- A user without a row has the defaults: private, two-way off.
CREATE TABLE mail_settings (
    company_id      bigint      NOT NULL,
    user_id         bigint      NOT NULL,
    default_sharing smallint    NOT NULL CHECK (default_sharing IN (1, 2)), -- 1 private, 2 shared
    two_way_sync    boolean     NOT NULL,
    update_time     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, user_id)
);

---- create above / drop below ----

DROP TABLE mail_settings;
