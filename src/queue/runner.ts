import { hostname } from 'node:os'
import { backoffMs } from '../ai/retry.ts'
import { isAppError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { type Metrics, noMetrics } from '../metrics/registry.ts'
import type { Db, Notifier } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { newId } from '../store/rows.ts'
import {
  claimTasks,
  completeTask,
  failTask,
  releaseTasks,
  renewLease,
  rescheduleTask,
} from '../store/task-claims.ts'
import { enqueueTask, type Task } from '../store/tasks.ts'
import { settlesWithin } from '../util/within.ts'
import { classifyTaskError, type TaskContext, type TaskHandler, type TaskQueue } from './types.ts'
import { createWaiters } from './waiters.ts'

export const WAKE_CHANNEL = 'kbot_wake'
const NOTIFY_EVERY_MS = 5
/**
 * How long a task an ack committed without a NOTIFY (the last one went out under NOTIFY_EVERY_MS before) waits
 * for a later ack's statement to carry one before it gets a NOTIFY of its own. Longer than the gap between
 * acks under load plus a statement, so that under load the acks carry every NOTIFY.
 */
const ANNOUNCE_WAIT_MS = 20

export interface RunnerDeps {
  db: Db
  notifier: Notifier | null
  log: Logger
  /** Task outcomes by kind (completed, retried, failed). */
  metrics?: Metrics
  /** Slots: how many tasks this instance runs at once (0: this instance runs none). */
  concurrency: number
  leaseMs: number
  pollMs: number
  // biome-ignore lint/suspicious/noExplicitAny: a registry holds handlers of every input type
  handlers: readonly TaskHandler<any>[]
}

export interface RunnerStats {
  size: number
  busy: number
  running: boolean
  instance: string
}

export interface QueueRunner extends TaskQueue {
  start(): Promise<void>
  /** Stops claiming, lets running tasks finish for `graceMs`, then puts the rest back to pending. */
  stop(graceMs: number): Promise<void>
  stats(): RunnerStats
  /** Enqueues a task of a registered kind with the handler's attempts and far deadline; null on a duplicate key. */
  enqueue<I>(
    kind: string,
    input: I,
    opts?: { dedupeKey?: string; userId?: string; convId?: string; runAfter?: Date },
  ): Promise<Task<I> | null>
}

interface Running {
  owner: string
  abort: AbortController
  done: Promise<void>
}

class LeaseLost extends Error {}

/**
 * Drains aiprocessingtask with `concurrency` slots and knows nothing of what a task does: each claimed task
 * runs `handlers[task.kind]`. Pick-up is by wake-up (this instance at once, others by NOTIFY when this one is
 * full), the poll is only a backstop. Every write about a task is fenced by its lease owner; a lease is renewed
 * every third of its length while the handler runs. No transaction is open while a handler works.
 */
export function createQueueRunner(deps: RunnerDeps): QueueRunner {
  const { db, leaseMs } = deps
  const metrics = deps.metrics ?? noMetrics
  const size = deps.concurrency
  const handlers = new Map(deps.handlers.map((h) => [h.kind, h]))
  const kinds = [...handlers.keys()]
  const instance = `${hostname()}:${process.pid}:${newId().slice(-6)}`
  const log = deps.log.child({ instance })
  const running = new Map<string, Running>()
  const waiters = createWaiters(db)
  const background = new Set<Promise<void>>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let claimSeq = 0
  let active = false
  let stopping = false
  let filling: Promise<void> | null = null
  let again = false
  let poll: ReturnType<typeof setInterval> | null = null
  let unlisten: (() => Promise<void>) | null = null
  let lastClaimError = 0

  // This instance is full (or has no workers): let another instance take the work now. Under load every
  // request would NOTIFY; one per few milliseconds is enough, since a woken instance claims all it can. An ack
  // carries its NOTIFY in its own statement (notifyChannel); one committed without (the last NOTIFY was too
  // recent) is announced by a later ack's, or by a NOTIFY of its own when none has come by ANNOUNCE_WAIT_MS:
  // a NOTIFY of its own is a transaction, with a commit flushed to disk, beside the ack's.
  let lastNotify = Number.NEGATIVE_INFINITY
  let notifyTimer: ReturnType<typeof setTimeout> | null = null
  /**
   * When the last task the pending NOTIFY is for was committed (performance.now()): a statement that took the
   * channel after it, and committed its NOTIFY, covers them all.
   */
  let armedAt = 0
  const sendNotify = () => {
    if (notifyTimer) clearTimeout(notifyTimer)
    notifyTimer = null
    lastNotify = performance.now()
    deps.notifier!.notify(WAKE_CHANNEL).catch((err) => log.debug({ err }, 'NOTIFY failed'))
  }
  const notifyOthers = (waitMs?: number) => {
    if (!deps.notifier) return
    if (notifyTimer) {
      armedAt = performance.now()
      return
    }
    const wait = waitMs ?? NOTIFY_EVERY_MS - (performance.now() - lastNotify)
    if (wait <= 0) return sendNotify()
    armedAt = performance.now()
    notifyTimer = setTimeout(sendNotify, wait)
  }

  const track = (p: Promise<void>) => {
    const tracked = p
      .catch((err) => log.error({ err }, 'background work of a task failed'))
      .finally(() => background.delete(tracked))
    background.add(tracked)
  }

  const settle = waiters.settle

  /** Claims as many tasks as there are free slots; coalesces concurrent wake-ups into one more round. */
  function fill(): Promise<void> {
    if (filling) {
      again = true
      return filling
    }
    filling = (async () => {
      do {
        again = false
        while (active && !stopping && running.size < size) {
          const owner = `${instance}/${++claimSeq}`
          const limit = size - running.size
          let claimed: Task[]
          try {
            claimed = await claimTasks(db, { owner, limit, leaseMs, kinds })
          } catch (err) {
            // Database down: back off to the poll; log once per ten seconds, not per wake-up.
            if (Date.now() - lastClaimError > 10_000)
              log.warn({ err }, 'claiming tasks failed; retrying on the next poll')
            lastClaimError = Date.now()
            return
          }
          for (const task of claimed) start(task, owner)
          if (claimed.length < limit) break
        }
      } while (again && active && !stopping)
    })().finally(() => {
      filling = null
    })
    return filling
  }

  function start(task: Task, owner: string): void {
    // Our own earlier run of this task lost its lease (e.g. the database was away longer than the lease):
    // stop it; the fence would refuse its writes anyway.
    running.get(task.id)?.abort.abort(new Error('lease lost'))
    const abort = new AbortController()
    const entry: Running = { owner, abort, done: Promise.resolve() }
    running.set(task.id, entry)
    entry.done = run(task, owner, abort).finally(() => {
      if (running.get(task.id) === entry) running.delete(task.id)
      if (active && !stopping) void fill()
    })
  }

  function wakeAt(delayMs: number): void {
    const timer = setTimeout(() => {
      timers.delete(timer)
      void fill()
    }, delayMs)
    timers.add(timer)
  }

  async function run(task: Task, owner: string, abort: AbortController): Promise<void> {
    const handler = handlers.get(task.kind)!
    const tlog = log.child({ taskId: task.id, kind: task.kind, attempt: task.attempts })
    let leaseLost = false
    let completed: Task | null = null
    // An error while completing (database away) is not the handler's failure: the task stays leased and is
    // taken up again after its lease, as if this worker had died.
    let completing = false
    const renew = setInterval(
      () => {
        renewLease(db, task.id, owner, leaseMs)
          .then((held) => {
            if (!held && !leaseLost) {
              leaseLost = true
              tlog.warn('lease lost: another worker took this task over; abandoning it')
              abort.abort(new Error('lease lost'))
            }
          })
          .catch((err) => tlog.warn({ err }, 'lease renewal failed'))
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    )
    const ctx: TaskContext = {
      signal: abort.signal,
      log: tlog,
      owner,
      background: track,
      async complete(write) {
        if (leaseLost) return null
        completing = true
        try {
          completed = await db.tx(async (tx) => {
            const fields = (await write?.(tx)) ?? {}
            const done = await completeTask(tx, { ...fields, id: task.id, owner })
            // Lease lost between the work and here: roll back what `write` stored too.
            if (!done) throw new LeaseLost()
            return done
          })
        } catch (err) {
          if (!(err instanceof LeaseLost)) throw err
          completing = false
          tlog.warn('lease lost before completion; the result was discarded')
          return null
        }
        completing = false
        return completed
      },
    }
    try {
      if (task.attempts > task.maxAttempts) {
        await finishFailed(
          task,
          owner,
          `gave up after ${task.maxAttempts} attempts (workers were lost)`,
          tlog,
        )
        return
      }
      try {
        await handler.run(task, ctx)
        if (!completed && !leaseLost && !abort.signal.aborted) await ctx.complete()
      } catch (err) {
        if (leaseLost) return
        if (stopping && abort.signal.aborted) return // released to pending by stop()
        if (completing) throw err
        await handleFailure(handler, task, owner, err, ctx)
        return
      }
      if (!completed) return
      tlog.debug('task completed')
      metrics.task(task.kind, 'completed')
      settle(completed)
      handler.onCompleted?.(completed, ctx)
    } catch (err) {
      if (isAppError(err, 'DB_UNAVAILABLE'))
        tlog.warn({ err }, 'database unavailable; the task will be retried after its lease')
      else tlog.error({ err }, 'task crashed')
    } finally {
      clearInterval(renew)
    }
  }

  async function handleFailure(
    handler: TaskHandler,
    task: Task,
    owner: string,
    err: unknown,
    ctx: TaskContext,
  ) {
    const info = (handler.classify ?? classifyTaskError)(err)
    if (info.retryable && task.attempts < task.maxAttempts) {
      // Capped by the deadline while it is ahead: a task that may still make it is not put off past it.
      const left = task.deadlineAt.getTime() - Date.now()
      const base = backoffMs(task.attempts, info.retryAfterMs)
      const delay = handler.backoffMs ? handler.backoffMs(task, info) : left > 0 ? Math.min(base, left) : base
      const runAfter = new Date(Date.now() + delay)
      // Fenced: a worker that lost its lease must not touch the task.
      if (!(await rescheduleTask(db, task.id, owner, runAfter, info.reason))) return
      metrics.task(task.kind, 'retried')
      ctx.log.warn({ reason: info.reason, retryInMs: delay }, 'attempt failed; retrying')
      wakeAt(delay)
      handler.onRetry?.(task, { runAfter, reason: info.reason }, ctx)
      return
    }
    await finishFailed(task, owner, info.reason, ctx.log)
  }

  async function finishFailed(task: Task, owner: string, reason: string, tlog: Logger) {
    const failed = await failTask(db, task.id, owner, reason)
    if (!failed) return
    tlog.error({ reason, attempts: task.attempts }, 'task failed')
    metrics.task(task.kind, 'failed')
    await logEvent(db, 'task_failed', task.userId, { task_id: task.id, reason, attempts: task.attempts })
    settle(failed)
    handlers.get(task.kind)?.onFailed?.(failed, { log: tlog, background: track })
  }

  function wake(): void {
    if (active && !stopping && running.size < size) void fill()
    else notifyOthers()
  }

  return {
    async start() {
      if (active || size === 0) return
      active = true
      poll = setInterval(() => void fill(), deps.pollMs)
      if (deps.notifier) {
        try {
          // onReady also fires after a reconnect: catch up on anything announced while we were deaf.
          unlisten = await deps.notifier.listen(
            WAKE_CHANNEL,
            () => void fill(),
            () => void fill(),
          )
        } catch (err) {
          log.warn({ err }, 'LISTEN failed; relying on the poll until the database is back')
        }
      }
      void fill()
    },

    wake,

    notifyChannel() {
      if (!deps.notifier || (active && !stopping && running.size < size)) return null
      const now = performance.now()
      // An unannounced task goes with this statement's NOTIFY, whatever the throttle says.
      if (!notifyTimer && now - lastNotify < NOTIFY_EVERY_MS) return null
      lastNotify = now
      return WAKE_CHANNEL
    },

    committed(carriedSince) {
      if (carriedSince === null) {
        if (active && !stopping && running.size < size) void fill()
        else notifyOthers(ANNOUNCE_WAIT_MS)
        return
      }
      // The statement's NOTIFY went out with its commit, after every task committed before it took the
      // channel: those are announced. One committed since keeps its own NOTIFY.
      if (notifyTimer && armedAt <= carriedSince) {
        clearTimeout(notifyTimer)
        notifyTimer = null
      }
    },

    async enqueue(kind, input, opts = {}) {
      const handler = handlers.get(kind)
      if (!handler) throw new Error(`no task handler is registered for kind ${kind}`)
      const now = new Date()
      const task = await enqueueTask<typeof input>(db, {
        kind,
        input,
        ...opts,
        deadlineAt: new Date(now.getTime() + (handler.deadlineMs ?? 3_600_000)),
        maxAttempts: handler.maxAttempts ?? 3,
        now,
      })
      if (task) wake()
      return task
    },

    waitFor: waiters.waitFor,

    async stop(graceMs) {
      if (!active || stopping) return
      stopping = true
      if (poll) clearInterval(poll)
      if (notifyTimer) clearTimeout(notifyTimer)
      for (const t of timers) clearTimeout(t)
      await unlisten?.().catch(() => {})
      await filling
      const all = () => Promise.all([...running.values()].map((r) => r.done))
      const finished = await settlesWithin(all(), graceMs)
      if (!finished) {
        const owners = new Set([...running.values()].map((r) => r.owner))
        for (const r of running.values()) r.abort.abort(new Error('shutdown'))
        let released = 0
        for (const owner of owners) released += await releaseTasks(db, owner).catch(() => 0)
        log.warn({ released }, 'shutdown grace period over: unfinished tasks returned to pending')
        await all()
      }
      await settlesWithin(Promise.all(background), Math.max(1000, graceMs))
      active = false
    },

    stats: () => ({ size, busy: running.size, running: active && !stopping, instance }),
  }
}
