import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { dueCallbacks, expireCallbacks } from '../store/task-delivery.ts'
import type { Delivery } from './delivery.ts'

export interface DeliveryGuard {
  start(): void
  stop(): Promise<void>
  /** One pass; exposed for tests and for the first pass after start. */
  sweep(): Promise<void>
}

/**
 * Due callbacks read at once, read in one pass, and the guard's deliveries in flight at once (with a receiver
 * answering in 100 ms, about 2,000 callbacks a second).
 */
const BATCH = 100
const MAX_PER_PASS = 5000
const MAX_IN_FLIGHT = 200

/**
 * Keeps the callback promise independently of the workers: every accepted request with a callbackUrl gets
 * exactly one POST before it expires. When a deadline comes (or a queued task has too little time left for a
 * model attempt), the guard sends the answer if it is ready, else a short apology. It runs on every instance;
 * the single-use claim in the database makes sure only one of them POSTs.
 */
export function createDeliveryGuard(deps: {
  db: Db
  config: Config
  log: Logger
  delivery: Delivery
  metrics?: Metrics
}): DeliveryGuard {
  const log = deps.log.child({ component: 'delivery-guard' })
  let timer: ReturnType<typeof setInterval> | null = null
  let sweeping: Promise<void> | null = null
  const inFlight = new Set<Promise<void>>()
  let lastError = 0

  async function pass(): Promise<void> {
    const now = new Date()
    for (const task of await expireCallbacks(deps.db, now)) {
      log.warn(
        { taskId: task.id },
        'callback expired before it could be used; the answer waits for "답변 확인"',
      )
      deps.metrics?.callback('expired')
      await logEvent(deps.db, 'callback_expired', task.userId, { task_id: task.id, status: task.status })
    }
    // A full batch means more are due: under a burst thousands of callbacks fall due within seconds, more
    // than one batch per tick could ever send before they expire. The next batch is read once this one's
    // claims are through (a claimed callback is no longer due), up to MAX_PER_PASS a pass; at most
    // MAX_IN_FLIGHT of the guard's POSTs run at once, so a burst goes at the receiver's pace (the same event
    // loop answers the acks).
    for (let read = 0; read < MAX_PER_PASS; ) {
      // Room for a whole batch first: reads stay 100 rows, not one per POST that finishes.
      while (inFlight.size > MAX_IN_FLIGHT - BATCH) await Promise.race(inFlight)
      const limit = Math.min(BATCH, MAX_PER_PASS - read)
      const due = await dueCallbacks(deps.db, now, deps.config.worker.min_attempt_ms, limit)
      read += due.length
      const claims = due.map(
        (task) =>
          new Promise<void>((claimed) => {
            const p = deps.delivery
              .deliver(task, { onClaim: claimed })
              .catch((err) => log.error({ err, taskId: task.id }, 'delivery failed'))
              .finally(() => {
                // A delivery that never reports its claim holds the next batch until it is done.
                claimed()
                inFlight.delete(p)
              })
            inFlight.add(p)
          }),
      )
      await Promise.all(claims)
      if (due.length < limit) return
    }
  }

  const sweep = () => {
    sweeping ??= pass()
      .catch((err) => {
        if (Date.now() - lastError > 10_000) log.warn({ err }, 'delivery guard pass failed; retrying')
        lastError = Date.now()
      })
      .finally(() => {
        sweeping = null
      })
    return sweeping
  }

  return {
    start() {
      if (timer) return
      timer = setInterval(() => void sweep(), deps.config.worker.guard_interval_ms)
      void sweep()
    },
    async stop() {
      if (timer) clearInterval(timer)
      timer = null
      await sweeping
      await Promise.all(inFlight)
    },
    sweep,
  }
}
