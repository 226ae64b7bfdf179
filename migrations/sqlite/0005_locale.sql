-- The web client's language per user: empty follows the browser's.
alter table users add column locale text not null default '';
