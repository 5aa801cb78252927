-- Prompt tokens served from OpenAI's prompt cache (part of prompt_tokens, billed at the cached price), so
-- costs can be recomputed and cache savings seen. Null for rows written before this column existed.
alter table promptlog add column cached_tokens integer;
-- (Usage reports filter promptlog by time through promptlog_created, made by 0002.)
