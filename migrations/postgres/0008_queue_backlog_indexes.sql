-- Issue 13: the delivery guard runs twice a second on every instance, and under a burst thousands of callbacks
-- are queued. Finished tasks whose callback is still pending (their worker died between the answer and the
-- POST, or the database blinked) were found by reading every queued callback; this index holds only them —
-- normally none — so that pass reads nothing else. No ack writes it: a new task is pending, not finished.
create index aiprocessingtask_finished_callback on aiprocessingtask (completed_at)
  where callback_status = 'pending' and status in ('completed', 'failed');
