-- kbot schema, SQLite. Table names are kept from the old bot so that operators can move over.
-- Times are ISO-8601 UTC text ('2026-01-02T03:04:05.678Z', the form of Date#toISOString), so that text
-- comparison is time comparison; ids are UUIDv7 text; booleans are 0/1; JSON is text.

create table appuser (
  id                  text primary key,
  bot_id              text not null default '',
  kakao_user_id       text not null,
  plusfriend_user_key text,
  name                text,
  name_state          text not null default 'none' check (name_state in ('none', 'awaiting')),
  name_state_until    text,
  created_at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  unique (bot_id, kakao_user_id)
);

create table conversation (
  id               text primary key,
  user_id          text not null references appuser (id) on delete cascade,
  started_at       text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  last_activity_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  ended_at         text
);
create index conversation_user_open on conversation (user_id, started_at desc) where ended_at is null;

create table message (
  id         text primary key,
  conv_id    text not null references conversation (id) on delete cascade,
  role       text not null check (role in ('user', 'assistant')),
  content    text not null,
  tokens     integer,
  created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index message_conv_created on message (conv_id, created_at);

create table prompttemplate (
  id            text primary key,
  name          text not null,
  version       integer not null,
  system_prompt text not null,
  description   text,
  model         text,
  temperature   real,
  max_tokens    integer,
  is_active     integer not null default 0,
  created_at    text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  unique (name, version)
);
-- At most one active version per name; activation swaps inside one transaction.
create unique index prompttemplate_one_active on prompttemplate (name) where is_active = 1;

create table promptlog (
  msg_id            text primary key references message (id) on delete cascade,
  task_id           text,
  prompt_id         text references prompttemplate (id) on delete set null,
  prompt_name       text,
  prompt_version    integer,
  model             text not null,
  temperature       real,
  max_tokens        integer,
  messages          text not null,
  prompt_tokens     integer,
  completion_tokens integer,
  total_tokens      integer,
  latency_ms        integer,
  cost_usd          real,
  created_at        text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

create table eventlog (
  id         text primary key,
  user_id    text references appuser (id) on delete set null,
  type       text not null,
  detail     text,
  created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index eventlog_type_created on eventlog (type, created_at);
create index eventlog_user_created on eventlog (user_id, created_at);

create table logmessage (
  id         text primary key,
  level      text not null,
  source     text,
  message    text not null,
  context    text,
  created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create index logmessage_created on logmessage (created_at);

create table usersummary (
  user_id         text primary key references appuser (id) on delete cascade,
  summary         text not null,
  last_message_id text references message (id) on delete set null,
  updated_at      text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

create table aiprocessingtask (
  id                  text primary key,
  user_id             text not null references appuser (id) on delete cascade,
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
