-- Local users (when no OpenID Connect provider is configured): a role each, a salted scrypt
-- hash of the password, never the password. Every change is a user_events row.
CREATE TABLE users (
    username       VARCHAR PRIMARY KEY,
    display_name   VARCHAR NOT NULL,
    role           VARCHAR NOT NULL CHECK (role IN ('viewer', 'planner', 'approver', 'admin')),
    password_hash  VARCHAR NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by     VARCHAR NOT NULL
);

CREATE SEQUENCE user_event_seq;
CREATE TABLE user_events (
    event_id     BIGINT PRIMARY KEY DEFAULT nextval('user_event_seq'),
    username     VARCHAR NOT NULL,
    occurred_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    actor        VARCHAR NOT NULL,
    change       VARCHAR NOT NULL   -- 'added as planner', 'disabled', 'enabled', 'role approver'
);
