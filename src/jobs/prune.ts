import type { Config } from '../config.ts'
import type { Db } from '../store/db.ts'
import {
  deleteOldCallLogs,
  deleteOldEvents,
  deleteOldLogLines,
  deleteOldMessages,
} from '../store/retention.ts'

export interface PruneCounts {
  eventlog: number
  logmessage: number
  message: number
  /** Summary calls' promptlog rows (an answer's row goes with its message and is not counted apart). */
  promptlog: number
}

const DAY_MS = 86_400_000

async function inBatches(
  days: number,
  now: Date,
  batch: number,
  del: (before: Date, batch: number) => Promise<number>,
): Promise<number> {
  if (days === 0) return 0
  const before = new Date(now.getTime() - days * DAY_MS)
  let total = 0
  for (;;) {
    const n = await del(before, batch)
    total += n
    if (n < batch) return total
  }
}

/**
 * The retention job's work (`[retention]`): eventlog older than `event_days`, logmessage older than
 * `log_days`, and — only when `message_days` is set — messages and prompt logs of conversations idle that long.
 * An age of 0 keeps that table forever. Finished tasks are pruned by `task_days` apart (pruneTasks).
 */
export async function pruneAll(db: Db, config: Config, now = new Date()): Promise<PruneCounts> {
  const r = config.retention
  return {
    eventlog: await inBatches(r.event_days, now, r.batch_size, (b, n) => deleteOldEvents(db, b, n)),
    logmessage: await inBatches(r.log_days, now, r.batch_size, (b, n) => deleteOldLogLines(db, b, n)),
    message: await inBatches(r.message_days, now, r.batch_size, (b, n) => deleteOldMessages(db, b, n)),
    promptlog: await inBatches(r.message_days, now, r.batch_size, (b, n) => deleteOldCallLogs(db, b, n)),
  }
}
