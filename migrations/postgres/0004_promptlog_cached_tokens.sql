-- Prompt tokens served from OpenAI's prompt cache (part of prompt_tokens, billed at the cached price), so
-- costs can be recomputed and cache savings seen. Null for rows written before this column existed.
alter table promptlog add column cached_tokens integer;
-- Usage reports filter and group promptlog by time.
create index if not exists promptlog_created on promptlog (created_at);
