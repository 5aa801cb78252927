import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { QueueRunner } from '../queue/runner.ts'
import type { Db } from '../store/db.ts'

export interface JobContext {
  db: Db
  config: Config
  log: Logger
  /** The time this run was scheduled for (the same on every instance). */
  scheduledAt: Date
  signal: AbortSignal
  /** For per-item work: enqueue one task per item (`queue.enqueue(kind, input)`) instead of looping here. */
  queue: Pick<QueueRunner, 'enqueue'>
}

/**
 * A periodic job. Every instance keeps the schedule, but each scheduled time becomes one `job` task (unique
 * `dedupe_key`), so the job runs once across all instances, with the queue's lease, retries and shutdown.
 *
 * @example
 *   export const vacuumJob = defineJob({
 *     name: 'vacuum',
 *     schedule: () => '0 3 * * *',
 *     async run(ctx) { ctx.log.info('vacuumed') },
 *   })
 */
export interface Job {
  /** kebab-case; part of the dedupe key `job:<name>:<scheduled ISO time>`. */
  name: string
  /** A cron expression from the config, or null when the job is switched off. */
  schedule(config: Config): string | null
  run(ctx: JobContext): Promise<void>
}

export const defineJob = (job: Job): Job => job

/** The queue kind every job run has; the input names the job. */
export const JOB_KIND = 'job'

export interface JobInput {
  name: string
  scheduledAt: string
}
