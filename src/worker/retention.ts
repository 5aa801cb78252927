import { Cron } from 'croner'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Db } from '../store/db.ts'
import { deleteFinishedTasks } from '../store/tasks.ts'

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

/** The periodic retention job (`[retention] schedule`, a cron expression). */
export function scheduleRetention(deps: { db: Db; config: Config; log: Logger }): { stop(): void } {
  const log = deps.log.child({ job: 'retention' })
  const job = new Cron(
    deps.config.retention.schedule,
    { protect: true, catch: (err) => log.warn({ err }, 'retention failed') },
    async () => {
      const removed = await pruneTasks(deps.db, deps.config)
      if (removed > 0) log.info({ removed }, 'old finished tasks removed')
    },
  )
  return { stop: () => job.stop() }
}
