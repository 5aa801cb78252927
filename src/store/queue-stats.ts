import type { Db } from './db.ts'
import { toDateOrNull } from './rows.ts'
import { TASK_STATUSES, type TaskStatus } from './tasks.ts'

export interface QueueSnapshot {
  byStatus: Record<TaskStatus, number>
  /** Age of the oldest pending task, in seconds; 0 when nothing waits. */
  oldestPendingSeconds: number
}

/** Queue depth by status and the oldest pending age (read at scrape time, never per turn). */
export async function queueSnapshot(db: Db, now = new Date()): Promise<QueueSnapshot> {
  const rows = await db.query<{ status: TaskStatus; n: number | string }>(
    'select status, count(*) as n from aiprocessingtask group by status',
  )
  const byStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>
  for (const r of rows) byStatus[r.status] = Number(r.n)
  const [oldest] = await db.query<{ at: unknown }>(
    `select min(created_at) as at from aiprocessingtask where status = 'pending'`,
  )
  const at = toDateOrNull(oldest?.at)
  return { byStatus, oldestPendingSeconds: at ? Math.max(0, (now.getTime() - at.getTime()) / 1000) : 0 }
}
