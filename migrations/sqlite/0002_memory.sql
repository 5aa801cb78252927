-- Long-term memory, forget-me and retention (issue 17).

-- "대화 기록 삭제" waits for a confirmation; the question is kept in the database, with an expiry, so that the
-- answer may reach another instance.
alter table appuser add column forget_until text;

-- A summary call has no assistant message, yet its tokens and cost must be accounted like any other model
-- call: promptlog rows may have no msg_id and carry the user (see the PostgreSQL migration). SQLite needs no
-- rebuild for the first part: a text PRIMARY KEY of a rowid table already admits NULLs (and stays unique
-- otherwise), which is exactly PostgreSQL's new "unique, nullable" msg_id.
alter table promptlog add column user_id text references appuser (id) on delete cascade;
update promptlog set user_id = (
  select c.user_id from message m join conversation c on c.id = m.conv_id where m.id = promptlog.msg_id);
create index promptlog_user on promptlog (user_id, created_at);
create index promptlog_created on promptlog (created_at);

-- The summary job looks at recently active conversations only; retention at long-idle ones.
create index conversation_activity on conversation (last_activity_at);
create index eventlog_created on eventlog (created_at);
