import { type AiClient, createAiClient } from './ai/client.ts'
import type { Config } from './config.ts'
import { createDelivery } from './delivery/delivery.ts'
import { createDeliveryGuard } from './delivery/guard.ts'
import { adminRoutes } from './http/admin-routes.ts'
import { createApp } from './http/app.ts'
import { consoleAdminRoutes } from './http/console-admin-routes.ts'
import { ackTimer, consoleRoutes } from './http/console-routes.ts'
import { kakaoRoutes } from './http/kakao-routes.ts'
import { metricsRoutes } from './http/metrics-routes.ts'
import { safetyRoutes } from './http/safety-routes.ts'
import { usageRoutes } from './http/usage-routes.ts'
import { JOBS } from './jobs/index.ts'
import { createJobScheduler, jobTaskHandler } from './jobs/scheduler.ts'
import { createTurnRunner } from './kakao/turn.ts'
import type { LogSink } from './log-sink.ts'
import type { Logger } from './logger.ts'
import { createMetrics, type Metrics } from './metrics/registry.ts'
import { buildPipeline } from './pipeline/build.ts'
import { createPromptCache } from './prompts/cache.ts'
import { createQueueRunner, type QueueRunner } from './queue/runner.ts'
import { operatorLexicon } from './safety/lexicon.ts'
import { createAckLatency } from './services/console-series.ts'
import { openStore, type Store } from './store/db.ts'
import { migrate } from './store/migrate.ts'
import { queueSnapshot } from './store/queue-stats.ts'
import { aiAnswerHandler } from './tasks/ai-answer.ts'
import { safetyWebhookHandler } from './tasks/safety-webhook.ts'
import { summaryHandler } from './tasks/summary.ts'
import { parseHostRules } from './util/host-rules.ts'

export interface KbotOptions {
  log: Logger
  /** Apply pending migrations first (default true). */
  migrate?: boolean
  /** Use this store instead of opening DATABASE_URL (tests). */
  store?: Store
  /** Replace the model client (tests that need no HTTP model). */
  ai?: AiClient
  /** Where warn/error lines go once the database is open (the logmessage table). */
  logSink?: LogSink
  /** The server's own base URL once it listens (DEBUG /test-skill builds callback URLs from it). */
  selfUrl?: () => string
  /** Replace the metrics registry (tests that turn the process defaults off). */
  metrics?: Metrics
}

/**
 * Builds a whole kbot — store, model client, queue runner, periodic jobs, delivery guard, pipeline, HTTP app — without
 * listening or starting background work. `start()` starts workers and schedules; `stop()` winds everything
 * down in order (stop claiming, finish or release running tasks, close the database).
 */
export async function createKbot(config: Config, options: KbotOptions) {
  const log = options.log
  const store = options.store ?? (await openStore(config.database_url))
  if (options.migrate !== false) {
    const result = await migrate(store.db)
    if (result.applied.length > 0)
      log.info({ applied: result.applied.map((m) => m.id) }, 'migrations applied')
  }
  options.logSink?.attach(store.db)
  // Complete: the config schema fills every message the operator did not override.
  const messages = config.messages
  const ai = options.ai ?? createAiClient(config, log)
  const metrics = options.metrics ?? createMetrics({ queue: () => queueSnapshot(store.db) })
  const delivery = createDelivery({ db: store.db, config, log, messages, metrics })
  // The queue runs every kind of task; each kind is a handler registered by name.
  const pool: QueueRunner = createQueueRunner({
    db: store.db,
    notifier: store.notifier,
    log,
    metrics,
    concurrency: config.worker.concurrency,
    leaseMs: config.worker.lease_ms,
    pollMs: config.worker.poll_ms,
    handlers: [
      aiAnswerHandler({
        db: store.db,
        config,
        ai,
        delivery,
        metrics,
        // The worker-time part of the pipeline (built below, before any worker starts).
        compose: (task) => pipeline.composeAnswer(task),
      }),
      summaryHandler({ db: store.db, ai, config, metrics }),
      safetyWebhookHandler({ db: store.db, config }),
      jobTaskHandler({ jobs: JOBS, db: store.db, config, queue: () => pool }),
    ],
  })
  const jobs = createJobScheduler({ jobs: JOBS, config, log, queue: pool })
  const guard = createDeliveryGuard({ db: store.db, config, log, delivery, metrics })
  const prompts = createPromptCache({ db: store.db, notifier: store.notifier, log })
  const pipeline = await buildPipeline(config, {
    config,
    db: store.db,
    log,
    messages,
    prompts,
    queue: pool,
    now: () => new Date(),
    metrics,
  })
  const selfUrl = options.selfUrl ?? (() => `http://127.0.0.1:${config.port}`)
  const turns = createTurnRunner({
    config,
    db: store.db,
    log,
    messages,
    pipeline,
    queue: pool,
    callbackRules: parseHostRules(config.kakao.callback_allowed_hosts),
    trustedCallbackPrefix: config.debug ? () => `${selfUrl()}/test-callback` : undefined,
  })
  // The console's ack latency chart: Kakao turns timed at the HTTP edge, in memory (see createAckLatency).
  const ack = createAckLatency()
  const routes = [
    // First: a global hook covers only the routes registered after it.
    ackTimer(ack),
    kakaoRoutes({ config, db: store.db, turns, metrics }),
    metricsRoutes({ config, metrics }),
    usageRoutes({ config, db: store.db }),
    adminRoutes({
      config,
      store,
      pool,
      startedAt: new Date(),
      promptsChanged: () => prompts.changed(),
      wake: () => pool.wake(),
    }),
    consoleAdminRoutes({ config, store, ai, ack }),
    consoleRoutes({ config, log }),
  ]
  // /admin/safety, and /test-safety in DEBUG mode, with the lexicon crisis-guard was built with.
  const guardOptions = pipeline.optionsOf('crisis-guard') as { extra_lexicon?: string[] } | undefined
  let lexicon: ReturnType<typeof operatorLexicon> | null = null
  const safetyLexicon = () => {
    lexicon ??= operatorLexicon(config.configDir, guardOptions?.extra_lexicon ?? [])
    return lexicon
  }
  routes.push(...(safetyRoutes({ config, db: store.db, lexicon: safetyLexicon }) as never[]))
  if (config.debug) {
    // Loaded only in DEBUG mode: production never carries the /test-* routes.
    const { debugRoutes } = await import('./http/debug-routes.ts')
    routes.push(debugRoutes({ config, db: store.db, turns, selfUrl }) as never)
  }
  const app = createApp({ config, store, log, routes })

  return {
    app,
    store,
    pool,
    guard,
    jobs,
    prompts,
    pipeline,
    metrics,
    async start() {
      await prompts.start()
      await pool.start()
      guard.start()
      jobs.start()
    },
    /** Workers and schedules only; the caller stops the HTTP server first. */
    async stop() {
      jobs.stop()
      await pool.stop(config.worker.shutdown_grace_ms)
      await guard.stop()
      await prompts.stop()
      await options.logSink?.detach()
      if (!options.store) await store.close()
    },
  }
}

export type Kbot = Awaited<ReturnType<typeof createKbot>>
