import { Cron } from 'croner'
import * as v from 'valibot'
import { int, str } from '../fields.ts'

/** A cron expression, checked by parsing it. */
export const cronExpression = (fallback: string) =>
  v.pipe(
    str(fallback),
    v.check((expr) => {
      try {
        new Cron(expr, { paused: true }).stop()
        return true
      } catch {
        return false
      }
    }, 'must be a cron expression such as "17 4 * * *"'),
  )

/** `[retention]`: what old rows are deleted, and when. */
export const retentionSection = v.optional(
  v.strictObject({
    /** Finished (completed/failed) tasks older than this are deleted. 0 keeps them forever. */
    task_days: int(0, 36_500, 30),
    /** eventlog rows older than this are deleted. 0 keeps them forever. */
    event_days: int(0, 36_500, 90),
    /** logmessage rows (warn/error log lines) older than this are deleted. 0 keeps them forever. */
    log_days: int(0, 36_500, 30),
    /**
     * Messages (and their promptlog rows) of conversations idle or ended longer than this are deleted. 0, the
     * default, keeps them forever: deleting conversations is an operator's decision.
     */
    message_days: int(0, 36_500, 0),
    schedule: cronExpression('17 4 * * *'),
    batch_size: int(1, 100_000, 1000),
  }),
  {},
)
