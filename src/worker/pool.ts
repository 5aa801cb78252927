import { hostname } from 'node:os'
import type { AiClient, AiResult } from '../ai/client.ts'
import { backoffMs, classifyFailure } from '../ai/retry.ts'
import type { Config } from '../config.ts'
import { isAppError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { type Metrics, noMetrics } from '../metrics/registry.ts'
import type { TaskQueue } from '../pipeline/types.ts'
import { touchConversation } from '../store/conversations.ts'
import type { Db, Notifier } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { insertMessage } from '../store/messages.ts'
import { newId } from '../store/rows.ts'
import {
  claimTasks,
  completeTask,
  failTask,
  getTask,
  releaseTasks,
  renewLease,
  rescheduleTask,
  type Task,
} from '../store/tasks.ts'
import type { Delivery } from './delivery.ts'

export const WAKE_CHANNEL = 'kbot_wake'
const NOTIFY_EVERY_MS = 5

export interface PoolDeps {
  db: Db
  notifier: Notifier | null
  config: Config
  log: Logger
  ai: AiClient
  delivery: Delivery
  metrics?: Metrics
}

export interface PoolStats {
  size: number
  busy: number
  running: boolean
  instance: string
}

export interface WorkerPool extends TaskQueue {
  start(): Promise<void>
  /** Stops claiming, lets running tasks finish for `graceMs`, then puts the rest back to pending. */
  stop(graceMs: number): Promise<void>
  stats(): PoolStats
}

interface Running {
  owner: string
  abort: AbortController
  done: Promise<void>
}

/**
 * An in-process pool of `worker.concurrency` slots that drains aiprocessingtask. Pick-up is by wake-up: the
 * instance that accepted a request wakes itself at once, other instances hear a NOTIFY when this one is full,
 * and the poll is only a backstop. No transaction is open during a model call.
 */
export function createWorkerPool(deps: PoolDeps): WorkerPool {
  const { db, config, ai, delivery } = deps
  const metrics = deps.metrics ?? noMetrics
  const size = config.worker.concurrency
  const leaseMs = config.worker.lease_ms
  const instance = `${hostname()}:${process.pid}:${newId().slice(-6)}`
  const log = deps.log.child({ instance })
  const running = new Map<string, Running>()
  const waiters = new Map<string, Set<(task: Task) => void>>()
  const deliveries = new Set<Promise<void>>()
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
  // request would NOTIFY; one per few milliseconds is enough, since a woken instance claims all it can.
  let lastNotify = 0
  let notifyTimer: ReturnType<typeof setTimeout> | null = null
  const notifyOthers = () => {
    if (!deps.notifier || notifyTimer) return
    const send = () => {
      notifyTimer = null
      lastNotify = Date.now()
      deps.notifier!.notify(WAKE_CHANNEL).catch((err) => log.debug({ err }, 'NOTIFY failed'))
    }
    const wait = NOTIFY_EVERY_MS - (Date.now() - lastNotify)
    if (wait <= 0) send()
    else notifyTimer = setTimeout(send, wait)
  }

  const track = (p: Promise<void>) => {
    const tracked = p
      .catch((err) => log.error({ err }, 'callback delivery failed'))
      .finally(() => deliveries.delete(tracked))
    deliveries.add(tracked)
  }

  const settle = (task: Task) => {
    const set = waiters.get(task.id)
    if (!set) return
    waiters.delete(task.id)
    for (const resolve of set) resolve(task)
  }

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
            claimed = await claimTasks(db, { owner, limit, leaseMs })
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
    const tlog = log.child({ taskId: task.id, attempt: task.attempts })
    let leaseLost = false
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
      let callbackLive = task.callbackStatus === 'pending'
      const timeLeft = task.deadlineAt.getTime() - Date.now()
      if (callbackLive && timeLeft < config.worker.min_attempt_ms) {
        // Too late for this attempt to make the callback: apologise now; the answer will wait for "답변 확인".
        track(delivery.deliver(task))
        callbackLive = false
      }
      const timeoutMs = callbackLive ? Math.min(config.openai.timeout_ms, timeLeft) : config.openai.timeout_ms
      let result: AiResult
      try {
        result = await ai.complete(task.input, { signal: abort.signal, timeoutMs })
      } catch (err) {
        if (leaseLost) return
        if (stopping && abort.signal.aborted) return // released to pending by stop()
        await handleFailure(task, owner, err, callbackLive, tlog)
        return
      }
      if (leaseLost) return
      const completed = await db.tx(async (tx) => {
        const messageId = newId()
        if (task.convId) {
          await insertMessage(tx, {
            id: messageId,
            convId: task.convId,
            role: 'assistant',
            content: result.text,
            tokens: result.completionTokens,
          })
          await tx.query(
            `insert into promptlog (msg_id, task_id, prompt_id, prompt_name, prompt_version, model, temperature,
               max_tokens, messages, prompt_tokens, completion_tokens, total_tokens, latency_ms, cost_usd,
               cached_tokens)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
            [
              messageId,
              task.id,
              task.input.prompt?.id ?? null,
              task.input.prompt?.name ?? null,
              task.input.prompt?.version ?? null,
              result.model,
              task.input.temperature,
              task.input.maxTokens,
              task.input.messages,
              result.promptTokens,
              result.completionTokens,
              result.totalTokens,
              result.latencyMs,
              result.costUsd,
              result.cachedTokens,
            ],
          )
          await touchConversation(tx, task.convId)
        }
        const done = await completeTask(tx, {
          id: task.id,
          owner,
          aiResponse: result.text,
          responseMessageId: task.convId ? messageId : null,
          tokensUsed: result.totalTokens,
        })
        // Lease lost between the model call and here: roll back the message and promptlog too.
        if (!done) throw new LeaseLost()
        return done
      })
      tlog.debug({ latencyMs: result.latencyMs, tokens: result.totalTokens }, 'task completed')
      metrics.model(result)
      metrics.task('answer', 'completed')
      settle(completed)
      if (completed.callbackStatus === 'pending') track(delivery.deliver(completed))
    } catch (err) {
      if (err instanceof LeaseLost) tlog.warn('lease lost before completion; the answer was discarded')
      else if (isAppError(err, 'DB_UNAVAILABLE'))
        tlog.warn({ err }, 'database unavailable; the task will be retried after its lease')
      else tlog.error({ err }, 'task crashed')
    } finally {
      clearInterval(renew)
    }
  }

  async function handleFailure(task: Task, owner: string, err: unknown, callbackLive: boolean, tlog: Logger) {
    const info = classifyFailure(err)
    if (info.retryable && task.attempts < task.maxAttempts) {
      const delay = backoffMs(task.attempts, info.retryAfterMs)
      const runAfter = new Date(Date.now() + delay)
      // Fenced: a worker that lost its lease must not touch the task, nor use its callback.
      if (!(await rescheduleTask(db, task.id, owner, runAfter, info.reason))) return
      tlog.warn({ reason: info.reason, retryInMs: delay }, 'model attempt failed; retrying')
      metrics.task('answer', 'retried')
      wakeAt(delay)
      if (callbackLive && runAfter.getTime() + config.worker.min_attempt_ms > task.deadlineAt.getTime()) {
        // The next attempt cannot finish before the callback expires: use it for the apology now.
        track(delivery.deliver(task))
      }
      return
    }
    await finishFailed(task, owner, info.reason, tlog)
  }

  async function finishFailed(task: Task, owner: string, reason: string, tlog: Logger) {
    const failed = await failTask(db, task.id, owner, reason)
    if (!failed) return
    tlog.error({ reason, attempts: task.attempts }, 'task failed')
    metrics.task('answer', 'failed')
    await logEvent(db, 'task_failed', task.userId, { task_id: task.id, reason, attempts: task.attempts })
    settle(failed)
    if (failed.callbackStatus === 'pending') track(delivery.deliver(failed))
  }

  return {
    async start() {
      if (active || size === 0) return
      active = true
      poll = setInterval(() => void fill(), config.worker.poll_ms)
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

    wake() {
      if (active && !stopping && running.size < size) void fill()
      else notifyOthers()
    },

    waitFor(taskId, ms) {
      return new Promise((resolve) => {
        const set = waiters.get(taskId) ?? new Set<(task: Task) => void>()
        waiters.set(taskId, set)
        const done = (task: Task | null) => {
          clearTimeout(timer)
          clearInterval(check)
          set.delete(onTask)
          if (set.size === 0 && waiters.get(taskId) === set) waiters.delete(taskId)
          resolve(task)
        }
        const onTask = (task: Task) => done(task)
        set.add(onTask)
        // Another instance may finish it: look in the database now and then, and once more at the end.
        const look = async () => {
          const task = await getTask(db, taskId).catch(() => null)
          return task && (task.status === 'completed' || task.status === 'failed') ? task : null
        }
        const check = setInterval(() => {
          void look().then((task) => task && done(task))
        }, 500)
        const timer = setTimeout(() => void look().then(done), ms)
      })
    },

    async stop(graceMs) {
      if (!active || stopping) return
      stopping = true
      if (poll) clearInterval(poll)
      if (notifyTimer) clearTimeout(notifyTimer)
      for (const t of timers) clearTimeout(t)
      await unlisten?.().catch(() => {})
      await filling
      const all = () => Promise.all([...running.values()].map((r) => r.done))
      const finished = await Promise.race([all().then(() => true), Bun.sleep(graceMs).then(() => false)])
      if (!finished) {
        const owners = new Set([...running.values()].map((r) => r.owner))
        for (const r of running.values()) r.abort.abort(new Error('shutdown'))
        let released = 0
        for (const owner of owners) released += await releaseTasks(db, owner).catch(() => 0)
        log.warn({ released }, 'shutdown grace period over: unfinished tasks returned to pending')
        await all()
      }
      await Promise.race([Promise.all(deliveries), Bun.sleep(Math.max(1000, graceMs))])
      active = false
    },

    stats: () => ({ size, busy: running.size, running: active && !stopping, instance }),
  }
}

class LeaseLost extends Error {}
