-- Counselling safety (SPEC §12). Additive: a crisis flag on the conversation, and the moderation endpoint's
-- categories on the task that asked it.
alter table conversation add column crisis_kinds text;          -- comma list: suicide,self_harm,abuse
alter table conversation add column flagged_at text;            -- first flag; null when never flagged
create index conversation_flagged on conversation (flagged_at desc) where flagged_at is not null;
alter table aiprocessingtask add column moderation text;        -- JSON {flagged, categories, scores, model}
