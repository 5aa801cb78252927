import { Cron } from 'croner'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { QueueRunner } from '../queue/runner.ts'
import { defineTaskHandler, final } from '../queue/types.ts'
import type { Db } from '../store/db.ts'
import type { Task } from '../store/tasks.ts'
import { JOB_KIND, type Job, type JobInput } from './types.ts'

/** A job run has a whole hour before it counts as late, so that EDF serves live callbacks first. */
const JOB_DEADLINE_MS = 3_600_000

/** The queue handler that runs a job task: looks the job up by name and runs it with the task's signal. */
export function jobTaskHandler(deps: {
  jobs: readonly Job[]
  db: Db
  config: Config
  queue: () => Pick<QueueRunner, 'enqueue'>
}) {
  const byName = new Map(deps.jobs.map((j) => [j.name, j]))
  return defineTaskHandler<JobInput>({
    kind: JOB_KIND,
    maxAttempts: 3,
    deadlineMs: JOB_DEADLINE_MS,
    async run(task, ctx) {
      const job = byName.get(task.input.name)
      if (!job) throw final(`no job named ${task.input.name}`)
      await job.run({
        db: deps.db,
        config: deps.config,
        log: ctx.log.child({ job: job.name }),
        scheduledAt: new Date(task.input.scheduledAt),
        signal: ctx.signal,
        queue: deps.queue(),
      })
    },
  })
}

export interface JobScheduler {
  start(): void
  stop(): void
  /**
   * Enqueues the run of `name` scheduled for `scheduledAt`: the task on the first call across all instances,
   * null on every later one (the dedupe key is taken). Cron calls it; tests call it to drive the clock.
   */
  tick(name: string, scheduledAt: Date): Promise<Task<JobInput> | null>
}

/**
 * Keeps each job's cron schedule on this instance. A tick does no work itself: it enqueues a `job` task with
 * `dedupe_key = job:<name>:<scheduled ISO time>`, so however many instances tick, one task exists and the
 * runner runs it once.
 */
export function createJobScheduler(deps: {
  jobs: readonly Job[]
  config: Config
  log: Logger
  queue: Pick<QueueRunner, 'enqueue'>
}): JobScheduler {
  const log = deps.log.child({ component: 'jobs' })
  const crons: Cron[] = []

  const tick: JobScheduler['tick'] = async (name, scheduledAt) => {
    const at = scheduledAt.toISOString()
    const task = await deps.queue.enqueue<JobInput>(
      JOB_KIND,
      { name, scheduledAt: at },
      { dedupeKey: `job:${name}:${at}` },
    )
    if (task) log.debug({ job: name, scheduledAt: at, taskId: task.id }, 'job enqueued')
    return task
  }

  return {
    tick,
    start() {
      for (const job of deps.jobs) {
        const expr = job.schedule(deps.config)
        if (!expr) continue
        const cron = new Cron(
          expr,
          { protect: true, catch: (err) => log.warn({ err, job: job.name }, 'job tick failed') },
          async () => {
            // The scheduled time, not the moment this timer fired: every instance must compute the same key.
            const scheduledAt = cron.previousRuns(1, new Date(Date.now() + 500))[0] ?? new Date()
            await tick(job.name, scheduledAt)
          },
        )
        crons.push(cron)
      }
    },
    stop() {
      for (const cron of crons.splice(0)) cron.stop()
    },
  }
}
