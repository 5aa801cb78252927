-- Issue 13: every ack inserts a task, and each index on aiprocessingtask is written with it. (status,
-- created_at) cost the ack most: measured under wrk at 16 connections, dropping it took kbot from 1,079-1,120
-- to 1,211-1,267 acks/s on PostgreSQL in the same run. What it served: counts by status (a scan either way)
-- and the oldest pending task (now read through aiprocessingtask_pending, see task-queries.ts), and admin
-- listings filtered by status (aiprocessingtask_created, newest first, filtered).
drop index if exists aiprocessingtask_status_created;
