import * as v from 'valibot'
import { bool, databaseUrl, int, LOG_LEVELS, optStr, str } from './fields.ts'
import { kakaoSection } from './sections/kakao.ts'
import { memorySection } from './sections/memory.ts'
import { messagesSection } from './sections/messages.ts'
import { openaiSection } from './sections/openai.ts'
import { pipelineSection, pluginsSection } from './sections/pipeline.ts'
import { retentionSection } from './sections/retention.ts'
import { safetySection } from './sections/safety.ts'
import { usageSection } from './sections/usage.ts'
import { workerSection } from './sections/worker.ts'

/** The whole configuration: top-level settings, then one section per concern (`src/config/sections/`). */
export const ConfigSchema = v.strictObject({
  database_url: v.optional(databaseUrl, 'sqlite:./data/kbot.db'),
  host: str('0.0.0.0'),
  port: int(0, 65535, 8000),
  log_level: v.optional(v.picklist(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(', ')}`), 'info'),
  debug: bool(false),
  admin_token: optStr(),
  /** A second token that opens only GET /metrics, for a Prometheus scraper. */
  metrics_token: optStr(),
  session_timeout_minutes: int(1, 7 * 24 * 60, 30),
  openai: openaiSection,
  kakao: kakaoSection,
  worker: workerSection,
  retention: retentionSection,
  memory: memorySection,
  usage: usageSection,
  safety: safetySection,
  pipeline: pipelineSection,
  plugins: pluginsSection,
  messages: messagesSection,
})

export type RawConfig = v.InferOutput<typeof ConfigSchema>
