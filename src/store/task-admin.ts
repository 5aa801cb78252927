import type { Db } from './db.ts'
import { type Row, type Task, type TaskStatus, toTask } from './tasks.ts'

// Operations: listing, admin retry, retention.

export async function listTasks(
  db: Db,
  opts: { status?: TaskStatus; limit?: number; offset?: number } = {},
): Promise<Task[]> {
  const params: unknown[] = [opts.limit ?? 50, opts.offset ?? 0]
  const where = opts.status ? `where status = $${params.push(opts.status)}` : ''
  const rows = await db.query<Row>(
    `select * from aiprocessingtask ${where} order by created_at desc, id desc limit $1 offset $2`,
    params,
  )
  return rows.map(toTask)
}

/**
 * Admin/CLI retry: a failed task goes back to pending with fresh attempts. Its callback is reusable only when
 * it was never used and has not expired; otherwise the answer waits for the user's "답변 확인".
 */
export async function retryFailedTask(
  db: Db,
  id: string,
  opts: { deadlineAt: Date; now?: Date },
): Promise<Task | null> {
  const now = opts.now ?? new Date()
  const rows = await db.query<Row>(
    `update aiprocessingtask
        set status = 'pending', attempts = 0, run_after = $2, error = null, completed_at = null,
            delivered_at = null, remaining_text = null,
            lease_owner = null, lease_until = null, updated_at = $2,
            deadline_at = case when callback_status = 'pending' and expires_at > $2 then deadline_at else $3 end,
            -- A callback the retry cannot keep is expired here: a pending callback's deadline never passes its
            -- expiry (the delivery guard relies on it, see expireCallbacks).
            callback_status = case when callback_status = 'pending' and expires_at <= $2 then 'expired'
                                   else callback_status end
      where id = $1 and status = 'failed' returning *`,
    [id, now, opts.deadlineAt],
  )
  return rows[0] ? toTask(rows[0]) : null
}

/** Retention: deletes finished tasks older than `before`, at most `batch` rows; returns how many went. */
export async function deleteFinishedTasks(db: Db, before: Date, batch: number): Promise<number> {
  const rows = await db.query(
    `delete from aiprocessingtask where id in (
       select id from aiprocessingtask
        where status in ('completed', 'failed') and completed_at < $1
          and (callback_status <> 'pending')
        limit $2)
     returning id`,
    [before, batch],
  )
  return rows.length
}
