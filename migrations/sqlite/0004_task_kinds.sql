-- The queue runs any kind of task, not only model answers. SQLite cannot drop NOT NULL from user_id in place,
-- so the table is rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter); nothing references it.
-- Existing rows are answers to a Kakao turn: kind 'ai_answer'. dedupe_key is set by whoever must enqueue a task
-- at most once (a periodic job's run: 'job:<name>:<scheduled ISO time>'); background kinds have no user.
create table aiprocessingtask_new (
  id                  text primary key,
  kind                text not null default 'ai_answer',
  dedupe_key          text,
  user_id             text references appuser (id) on delete cascade,
  conv_id             text references conversation (id) on delete set null,
  message_id          text references message (id) on delete set null,
  request_id          text,
  status              text not null default 'pending'
                        check (status in ('pending', 'processing', 'completed', 'failed')),
  input               text not null,
  callback_url        text,
  callback_status     text not null default 'none'
                        check (callback_status in ('none', 'pending', 'sent', 'rejected', 'expired', 'inline')),
  callback_sent_at    text,
  callback_error      text,
  expires_at          text,
  deadline_at         text not null,
  attempts            integer not null default 0,
  max_attempts        integer not null,
  run_after           text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  lease_owner         text,
  lease_until         text,
  ai_response         text,
  response_message_id text references message (id) on delete set null,
  tokens_used         integer,
  error               text,
  remaining_text      text,
  created_at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  started_at          text,
  completed_at        text,
  delivered_at        text,
  updated_at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
insert into aiprocessingtask_new (kind, id, user_id, conv_id, message_id, request_id, status, input, callback_url, callback_status, callback_sent_at,
  callback_error, expires_at, deadline_at, attempts, max_attempts, run_after, lease_owner, lease_until, ai_response,
  response_message_id, tokens_used, error, remaining_text, created_at, started_at, completed_at, delivered_at, updated_at)
select 'ai_answer', id, user_id, conv_id, message_id, request_id, status, input, callback_url, callback_status, callback_sent_at,
  callback_error, expires_at, deadline_at, attempts, max_attempts, run_after, lease_owner, lease_until, ai_response,
  response_message_id, tokens_used, error, remaining_text, created_at, started_at, completed_at, delivered_at, updated_at
  from aiprocessingtask;
drop table aiprocessingtask;
alter table aiprocessingtask_new rename to aiprocessingtask;
-- A retried Kakao delivery carries the same X-Request-Id: one task per request.
create unique index aiprocessingtask_request on aiprocessingtask (request_id) where request_id is not null;
-- A callbackUrl works once: a replay of a request without X-Request-Id must not create a second task for it.
create unique index aiprocessingtask_callback_url on aiprocessingtask (callback_url) where callback_url is not null;
-- Claiming: pending work by deadline, and processing work whose lease ran out.
create index aiprocessingtask_pending on aiprocessingtask (deadline_at) where status = 'pending';
create index aiprocessingtask_leased on aiprocessingtask (lease_until) where status = 'processing';
-- The delivery guard: callbacks not yet used.
create index aiprocessingtask_callback on aiprocessingtask (deadline_at) where callback_status = 'pending';
create index aiprocessingtask_user on aiprocessingtask (user_id, created_at desc);
create index aiprocessingtask_status_created on aiprocessingtask (status, created_at desc);
create index aiprocessingtask_created on aiprocessingtask (created_at desc);
create index aiprocessingtask_finished on aiprocessingtask (completed_at) where status in ('completed', 'failed');
create unique index aiprocessingtask_dedupe on aiprocessingtask (dedupe_key) where dedupe_key is not null;
