import type { Config } from '../config.ts'
import type { Db } from '../store/db.ts'
import { deleteFinishedTasks } from '../store/task-admin.ts'
import { pruneAll } from './prune.ts'
import { defineJob } from './types.ts'

/** Deletes finished tasks older than `task_days`, in batches so that no statement holds locks for long. */
export async function pruneTasks(db: Db, config: Config, now = new Date()): Promise<number> {
  const days = config.retention.task_days
  if (days === 0) return 0
  const before = new Date(now.getTime() - days * 86_400_000)
  let total = 0
  for (;;) {
    const n = await deleteFinishedTasks(db, before, config.retention.batch_size)
    total += n
    if (n < config.retention.batch_size) return total
  }
}

const isOff = (r: Config['retention']) =>
  r.task_days === 0 && r.event_days === 0 && r.log_days === 0 && r.message_days === 0

/** `[retention]`: batched deletes of every table by its own age, once per scheduled time across all instances. */
export const retentionJob = defineJob({
  name: 'retention',
  schedule: (config) => (isOff(config.retention) ? null : config.retention.schedule),
  async run(ctx) {
    const tasks = await pruneTasks(ctx.db, ctx.config, ctx.scheduledAt)
    const rows = await pruneAll(ctx.db, ctx.config, ctx.scheduledAt)
    const removed = { tasks, ...rows }
    if (Object.values(removed).some((n) => n > 0)) ctx.log.info({ removed }, 'old rows removed')
  },
})
