-- The queue runs any kind of task, not only model answers. Existing rows are answers to a Kakao turn.
alter table aiprocessingtask add column kind text not null default 'ai_answer';
-- Set by whoever must enqueue a task at most once (a periodic job's run: 'job:<name>:<scheduled ISO time>').
alter table aiprocessingtask add column dedupe_key text;
-- Background kinds (a periodic job, a summary) belong to no user.
alter table aiprocessingtask alter column user_id drop not null;
create unique index aiprocessingtask_dedupe on aiprocessingtask (dedupe_key) where dedupe_key is not null;
