import type { Db } from './db.ts'
import { countByStatus, oldestPendingCreatedAt } from './task-queries.ts'
import type { TaskStatus } from './tasks.ts'

export interface QueueSnapshot {
  byStatus: Record<TaskStatus, number>
  /** Age of the oldest pending task, in seconds; 0 when nothing waits. */
  oldestPendingSeconds: number
}

/** Queue depth by status and the oldest pending age (read at scrape time, never per turn). */
export async function queueSnapshot(db: Db, now = new Date()): Promise<QueueSnapshot> {
  const [byStatus, at] = await Promise.all([countByStatus(db), oldestPendingCreatedAt(db)])
  return { byStatus, oldestPendingSeconds: at ? Math.max(0, (now.getTime() - at.getTime()) / 1000) : 0 }
}
