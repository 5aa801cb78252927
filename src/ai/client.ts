import type OpenAI from 'openai'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { ChatMessage, TaskInput } from '../store/tasks.ts'
import { createCostCalculator } from './cost.ts'
import { openaiSdk } from './sdk.ts'

export interface AiResult {
  text: string
  model: string
  promptTokens: number | null
  completionTokens: number | null
  totalTokens: number | null
  /** Prompt tokens served from OpenAI's prompt cache (part of promptTokens, billed at the cached price). */
  cachedTokens: number | null
  latencyMs: number
  costUsd: number | null
}

export interface AiCallOptions {
  /** Aborts the call (lease lost, shutdown). */
  signal?: AbortSignal
  /** This attempt's time limit; the caller caps it by the delivery deadline. */
  timeoutMs: number
}

export interface AiClient {
  readonly configured: boolean
  readonly defaultModel: string
  complete(input: TaskInput, options: AiCallOptions): Promise<AiResult>
  /** The SDK client for other endpoints (the moderation second opinion); null without an API key. */
  readonly sdk: Pick<OpenAI, 'moderations'> | null
}

/**
 * The model behind the official SDK. The SDK's own retries are off: kbot decides about retries itself,
 * because only it knows the delivery deadline.
 */
export function createAiClient(config: Config, log: Logger): AiClient {
  const costOf = createCostCalculator({ prices: config.openai.prices, log })
  const apiKey = config.openai.api_key
  // Made now when there is a key: evaluating the SDK blocks the event loop for about 50 ms, and on the first
  // model call that stall landed among live acks (the bench's ack p99 at 200 req/s went from 21 to 44-58 ms).
  // Without a key (CLI tools, a misconfigured instance) it never loads.
  const client: OpenAI | null = apiKey
    ? new (openaiSdk())({
        apiKey,
        ...(config.openai.base_url ? { baseURL: config.openai.base_url } : {}),
        maxRetries: 0,
        timeout: config.openai.timeout_ms,
      })
    : null
  return {
    configured: client !== null,
    defaultModel: config.openai.model,
    sdk: client,
    async complete(input, options) {
      if (!client) throw new AppError('AI_NOT_CONFIGURED', 'OPENAI_API_KEY is not set')
      const started = performance.now()
      const completion = await client.chat.completions.create(
        {
          model: input.model,
          messages: input.messages as ChatMessage[],
          temperature: input.temperature,
          max_tokens: input.maxTokens,
        },
        { signal: options.signal, timeout: Math.max(1, Math.round(options.timeoutMs)), maxRetries: 0 },
      )
      const latencyMs = Math.round(performance.now() - started)
      const text = completion.choices[0]?.message?.content?.trim() ?? ''
      if (!text) throw new AppError('AI_UPSTREAM', 'the model returned an empty answer')
      const usage = completion.usage
      const model = completion.model || input.model
      return {
        text,
        model,
        promptTokens: usage?.prompt_tokens ?? null,
        completionTokens: usage?.completion_tokens ?? null,
        totalTokens: usage?.total_tokens ?? null,
        cachedTokens: usage ? (usage.prompt_tokens_details?.cached_tokens ?? 0) : null,
        latencyMs,
        costUsd: costOf(model, {
          promptTokens: usage?.prompt_tokens,
          completionTokens: usage?.completion_tokens,
          cachedTokens: usage?.prompt_tokens_details?.cached_tokens,
        }),
      }
    },
  }
}
