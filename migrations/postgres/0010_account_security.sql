-- Accounts and devices: "one device at a time", an email address for password resets, blocks,
-- two-factor sign-in (TOTP with one-time recovery codes), and one-time password reset links.

alter table users add column one_device bigint not null default 0;
-- optional; used only to send password reset links
alter table users add column email text not null default '';
-- base32; set by a setup that may not be confirmed yet (`totp_enabled_at` null)
alter table users add column totp_secret text;
alter table users add column totp_enabled_at bigint;
-- the last 30-second step a code was accepted for: a code is good once
alter table users add column totp_last_step bigint not null default 0;
-- wrong codes since the last good one; past ten, codes are refused until `totp_locked_until`
-- (recovery codes still work), so codes cannot be guessed from many addresses
alter table users add column totp_failures bigint not null default 0;
alter table users add column totp_locked_until bigint;

create table recovery_codes (
    user_id text not null references users(id) on delete cascade,
    -- SHA-256 of the code
    code_hash text not null,
    used_at bigint,
    primary key (user_id, code_hash)
);

create table password_resets (
    -- SHA-256 of the token in the link
    token_hash text primary key,
    user_id text not null references users(id) on delete cascade,
    -- the admin who made the link, or the user themself (by email)
    created_by text not null,
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint
);
create index password_resets_user on password_resets(user_id);

-- who blocked whom: no direct messages from them; their messages collapsed for the blocker
create table blocks (
    user_id text not null references users(id) on delete cascade,
    blocked_id text not null references users(id) on delete cascade,
    created_at bigint not null,
    primary key (user_id, blocked_id)
);
create index blocks_blocked on blocks(blocked_id);
