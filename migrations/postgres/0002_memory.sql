-- Long-term memory, forget-me and retention (issue 17).

-- "대화 기록 삭제" waits for a confirmation; the question is kept in the database, with an expiry, so that the
-- answer may reach another instance.
alter table appuser add column forget_until timestamptz;

-- A summary call has no assistant message, yet its tokens and cost must be accounted like any other model
-- call: promptlog rows may now have no msg_id (one row per answer still: msg_id stays unique) and carry the
-- user, so that usage by user and forget-me find summary rows too.
alter table promptlog drop constraint promptlog_pkey;
alter table promptlog alter column msg_id drop not null;
alter table promptlog add constraint promptlog_msg_id_key unique (msg_id);
alter table promptlog add column user_id uuid references appuser (id) on delete cascade;
update promptlog p set user_id = c.user_id
  from message m join conversation c on c.id = m.conv_id
 where m.id = p.msg_id;
create index promptlog_user on promptlog (user_id, created_at);
create index promptlog_created on promptlog (created_at);

-- The summary job looks at recently active conversations only; retention at long-idle ones.
create index conversation_activity on conversation (last_activity_at);
create index eventlog_created on eventlog (created_at);
