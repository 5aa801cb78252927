import type { Config } from '../config.ts'
import { reasonOf } from '../errors.ts'
import type { Store } from '../store/db.ts'
import {
  callbackOutcomesSince,
  countByStatus,
  lastTaskError,
  oldestPendingCreatedAt,
} from '../store/task-queries.ts'
import { VERSION } from '../version.ts'

/** What the health snapshot needs from this instance's workers (WorkerPool.stats() has this shape). */
export interface PoolStatsSource {
  stats(): { size: number; busy: number; running: boolean; instance: string }
}

export interface HealthDeps {
  store: Store
  config: Config
  pool: PoolStatsSource | null
  startedAt: Date
  now?: () => Date
}

/**
 * `GET /admin/health` (SPEC §4): database latency, this instance's worker pool, queue depth by status, the oldest
 * pending task's age, the model settings and the newest model error, callback outcomes of the last hour, uptime
 * and version. With the database down it still answers, with `status: "degraded"` and the reason.
 */
export async function healthSnapshot(deps: HealthDeps) {
  const now = deps.now?.() ?? new Date()
  const ai = {
    configured: Boolean(deps.config.openai.api_key),
    model: deps.config.openai.model,
    base_url: deps.config.openai.base_url ?? null,
    last_error: null as { error: string; at: string; task_id: string } | null,
  }
  const base = {
    version: VERSION,
    uptime_s: Math.round((now.getTime() - deps.startedAt.getTime()) / 1000),
    workers: deps.pool ? deps.pool.stats() : null,
    ai,
  }
  try {
    const latency = await deps.store.ping()
    const [depth, oldest, callbacks, lastError] = await Promise.all([
      countByStatus(deps.store.db),
      oldestPendingCreatedAt(deps.store.db),
      callbackOutcomesSince(deps.store.db, new Date(now.getTime() - 3_600_000)),
      lastTaskError(deps.store.db),
    ])
    if (lastError)
      ai.last_error = { error: lastError.error, at: lastError.at.toISOString(), task_id: lastError.taskId }
    return {
      status: 'ok' as const,
      ...base,
      database: { ok: true, dialect: deps.store.db.dialect, latency_ms: Math.round(latency * 100) / 100 },
      queue: {
        by_status: depth,
        oldest_pending_age_s: oldest
          ? Math.max(0, Math.round((now.getTime() - oldest.getTime()) / 1000))
          : null,
      },
      callbacks_last_hour: callbacks,
    }
  } catch (err) {
    return {
      status: 'degraded' as const,
      ...base,
      database: { ok: false, dialect: deps.store.db.dialect, error: reasonOf(err) },
      queue: null,
      callbacks_last_hour: null,
    }
  }
}

export type HealthSnapshot = Awaited<ReturnType<typeof healthSnapshot>>
