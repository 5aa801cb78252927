import type { Db } from './db.ts'
import type { TaskInput } from './tasks.ts'

/** What a model call reports (the shape of src/ai's AiResult; the store does not import the layer above). */
export interface ModelCallFigures {
  model: string
  promptTokens: number | null
  completionTokens: number | null
  totalTokens: number | null
  latencyMs: number
  costUsd: number | null
  /** Prompt tokens served from the provider's cache (part of promptTokens). */
  cachedTokens?: number | null
}

/** One model call, for auditing prompts and cost: what was sent, which prompt version, tokens, latency. */
export async function insertPromptLog(
  db: Db,
  entry: {
    messageId: string
    taskId: string
    userId: string | null
    input: TaskInput
    result: ModelCallFigures
  },
): Promise<void> {
  const { input, result } = entry
  await db.query(
    `insert into promptlog (msg_id, task_id, prompt_id, prompt_name, prompt_version, model, temperature,
       max_tokens, messages, prompt_tokens, completion_tokens, total_tokens, latency_ms, cost_usd,
       cached_tokens, user_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    [
      entry.messageId,
      entry.taskId,
      input.prompt?.id ?? null,
      input.prompt?.name ?? null,
      input.prompt?.version ?? null,
      result.model,
      input.temperature,
      input.maxTokens,
      input.messages,
      result.promptTokens,
      result.completionTokens,
      result.totalTokens,
      result.latencyMs,
      result.costUsd,
      result.cachedTokens ?? null,
      entry.userId,
    ],
  )
}
