import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { dueCallbacks, expireCallbacks } from '../store/tasks.ts'
import type { Delivery } from './delivery.ts'

export interface DeliveryGuard {
  start(): void
  stop(): Promise<void>
  /** One pass; exposed for tests and for the first pass after start. */
  sweep(): Promise<void>
}

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
    for (const task of await dueCallbacks(deps.db, now, deps.config.worker.min_attempt_ms)) {
      const p = deps.delivery
        .deliver(task)
        .catch((err) => log.error({ err, taskId: task.id }, 'delivery failed'))
        .finally(() => inFlight.delete(p))
      inFlight.add(p)
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
