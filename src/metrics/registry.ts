import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { QueueSnapshot } from '../store/queue-stats.ts'

export type AckRoute = 'skill' | 'welcome'
/** `callback`: acknowledged with useCallback; `inline`: answered within the request; `refused`: 4xx. */
export type AckOutcome = 'callback' | 'inline' | 'refused'
export type TaskOutcome = 'completed' | 'failed' | 'retried'
export type CallbackOutcome = 'sent' | 'rejected' | 'expired'

export interface ModelCall {
  model: string
  latencyMs: number
  promptTokens: number | null
  completionTokens: number | null
  cachedTokens: number | null
  costUsd: number | null
}

/**
 * What the rest of kbot records. Every method is an in-memory increment or observation (no I/O, no await),
 * so measuring never slows the Kakao ack; the queue is read from the database only when /metrics is scraped.
 */
export interface Metrics {
  ack(route: AckRoute, outcome: AckOutcome, seconds: number): void
  task(kind: string, outcome: TaskOutcome): void
  model(call: ModelCall): void
  callback(outcome: CallbackOutcome): void
  rateLimited(): void
  crisisFlagged(): void
  /** The Prometheus text exposition of everything above plus the process defaults. */
  render(): Promise<{ contentType: string; body: string }>
}

export interface MetricsDeps {
  /** Read at scrape time; a failure leaves the queue gauges out of that scrape rather than failing it. */
  queue?: () => Promise<QueueSnapshot>
  /** process_* and nodejs_* defaults (on unless a test turns them off). */
  defaults?: boolean
}

// Kakao gives a skill 5 s: the buckets are dense below it. The model may take up to OPENAI_TIMEOUT_MS.
const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5]
const MODEL_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60]

export function createMetrics(deps: MetricsDeps = {}): Metrics {
  const registry = new Registry()
  if (deps.defaults !== false) collectDefaultMetrics({ register: registry })
  const registers = [registry]

  const ack = new Histogram({
    name: 'kbot_ack_duration_seconds',
    help: 'Time from receiving a Kakao request to answering it, by route and outcome',
    labelNames: ['route', 'outcome'] as const,
    buckets: ACK_BUCKETS,
    registers,
  })
  const tasks = new Counter({
    name: 'kbot_tasks_total',
    help: 'AI task attempts that ended, by kind and outcome (retried: a retryable failure, tried again)',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  })
  const modelLatency = new Histogram({
    name: 'kbot_model_request_duration_seconds',
    help: 'Duration of successful model calls',
    labelNames: ['model'] as const,
    buckets: MODEL_BUCKETS,
    registers,
  })
  const tokens = new Counter({
    name: 'kbot_model_tokens_total',
    help: 'Tokens reported by the API: prompt (all input, cached included), cached (the cached part), completion',
    labelNames: ['model', 'kind'] as const,
    registers,
  })
  const cost = new Counter({
    name: 'kbot_model_cost_usd_total',
    help: 'Cost of model calls in USD, from [openai.prices]',
    labelNames: ['model'] as const,
    registers,
  })
  const callbacks = new Counter({
    name: 'kbot_callbacks_total',
    help: 'Kakao callback outcomes: sent, rejected by Kakao, or expired unused',
    labelNames: ['outcome'] as const,
    registers,
  })
  const rateLimited = new Counter({
    name: 'kbot_turns_rate_limited_total',
    help: 'Turns answered with the rate-limit reply instead of a model call',
    registers,
  })
  const crisis = new Counter({
    name: 'kbot_turns_crisis_flagged_total',
    help: 'Turns the crisis guard flagged',
    registers,
  })
  // Zero series exist from the start, so a rate() over a fresh process is 0 rather than absent.
  for (const outcome of ['sent', 'rejected', 'expired'] as const) callbacks.inc({ outcome }, 0)

  if (deps.queue) {
    const read = deps.queue
    let snapshot: Promise<QueueSnapshot | null> | null = null
    // Both gauges are collected in one scrape: one query serves them.
    const once = () => {
      snapshot ??= read()
        .catch(() => null)
        .finally(() => setTimeout(() => (snapshot = null), 0))
      return snapshot
    }
    new Gauge({
      name: 'kbot_queue_tasks',
      help: 'AI tasks in the queue table by status (all instances)',
      labelNames: ['status'] as const,
      registers,
      async collect() {
        this.reset()
        const s = await once()
        if (s) for (const [status, n] of Object.entries(s.byStatus)) this.set({ status }, n)
      },
    })
    new Gauge({
      name: 'kbot_queue_oldest_pending_age_seconds',
      help: 'Age of the oldest pending AI task (0 when none waits)',
      registers,
      async collect() {
        this.reset()
        const s = await once()
        if (s) this.set(s.oldestPendingSeconds)
      },
    })
  }

  return {
    ack: (route, outcome, seconds) => ack.observe({ route, outcome }, seconds),
    task: (kind, outcome) => tasks.inc({ kind, outcome }),
    model(call) {
      const model = call.model
      modelLatency.observe({ model }, call.latencyMs / 1000)
      if (call.promptTokens) tokens.inc({ model, kind: 'prompt' }, call.promptTokens)
      if (call.completionTokens) tokens.inc({ model, kind: 'completion' }, call.completionTokens)
      if (call.cachedTokens) tokens.inc({ model, kind: 'cached' }, call.cachedTokens)
      if (call.costUsd) cost.inc({ model }, call.costUsd)
    },
    callback: (outcome) => callbacks.inc({ outcome }),
    rateLimited: () => rateLimited.inc(),
    crisisFlagged: () => crisis.inc(),
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() }
    },
  }
}

/** Records nothing: for components built without metrics (unit tests, CLI). */
export const noMetrics: Metrics = {
  ack() {},
  task() {},
  model() {},
  callback() {},
  rateLimited() {},
  crisisFlagged() {},
  render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' }),
}
