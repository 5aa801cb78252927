import type { AiClient, AiResult } from '../ai/client.ts'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { renderPrompt } from '../prompts/render.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { insertCallLog, messagesToSummarise, saveSummary } from '../store/memory.ts'
import { getActivePrompt } from '../store/prompts.ts'
import { getSummary } from '../store/summaries.ts'
import type { ChatMessage, TaskInput } from '../store/tasks.ts'
import { getUser } from '../store/users.ts'
import { DEFAULT_SUMMARY_PROMPT, SUMMARY_PROMPT_NAME, summaryRequest } from './summary-prompt.ts'

export interface SummarizeDeps {
  db: Db
  ai: AiClient
  config: Config
  log: Logger
  now?: () => Date
}

export interface SummaryJob {
  userId: string
  convId: string
  /** The task that runs this summary, recorded on the promptlog row. */
  taskId?: string | null
}

export type SummaryOutcome =
  /** Nothing new since the last summary (or the user is gone): no model call was made. */
  | { status: 'nothing-new' }
  | {
      /** `superseded`: another summary of this user was saved meanwhile; this one was dropped (but accounted). */
      status: 'updated' | 'superseded'
      summary: string
      /** How many new messages were folded in, and the newest of them. */
      messages: number
      lastMessageId: string
      result: AiResult
    }

/**
 * Folds the previous summary and only the messages after it (`usersummary.last_message_id`) into a new
 * summary with the `[memory]` model and the `summary` prompt of the registry, then saves it and accounts the
 * call (a promptlog row without a message, and a `summary_updated` event). Running it again with no new
 * messages makes no model call. No transaction is open during the model call.
 */
export async function summarizeConversation(
  deps: SummarizeDeps,
  job: SummaryJob,
  signal?: AbortSignal,
): Promise<SummaryOutcome> {
  const { db, ai, config } = deps
  const now = deps.now ?? (() => new Date())
  const memory = config.memory
  const user = await getUser(db, job.userId)
  if (!user) return { status: 'nothing-new' }
  const previous = await getSummary(db, job.userId)
  const expected = previous?.lastMessageId ?? null
  const fresh = await messagesToSummarise(db, {
    userId: job.userId,
    convId: job.convId,
    afterId: expected,
    limit: memory.max_messages,
  })
  if (fresh.length === 0) return { status: 'nothing-new' }

  const version = await getActivePrompt(db, SUMMARY_PROMPT_NAME)
  const system = renderPrompt(version?.systemPrompt ?? DEFAULT_SUMMARY_PROMPT, {
    summary: previous?.summary ?? '',
    user_name: user.name ?? '',
  })
  const messages: ChatMessage[] = [
    { role: 'system', content: system },
    { role: 'user', content: summaryRequest(previous?.summary ?? null, fresh) },
  ]
  const input: TaskInput = {
    messages,
    model: version?.model ?? memory.model,
    temperature: version?.temperature ?? 0.2,
    maxTokens: version?.maxTokens ?? memory.max_tokens,
    prompt: version ? { id: version.id, name: version.name, version: version.version } : null,
  }
  const result = await ai.complete(input, { signal, timeoutMs: config.openai.timeout_ms })
  const lastMessageId = fresh[fresh.length - 1]!.id
  const at = now()
  const saved = await db.tx(async (tx) => {
    await insertCallLog(tx, {
      userId: job.userId,
      taskId: job.taskId ?? null,
      prompt: { id: version?.id ?? null, name: SUMMARY_PROMPT_NAME, version: version?.version ?? null },
      model: result.model,
      temperature: input.temperature,
      maxTokens: input.maxTokens,
      messages,
      promptTokens: result.promptTokens,
      completionTokens: result.completionTokens,
      totalTokens: result.totalTokens,
      latencyMs: result.latencyMs,
      costUsd: result.costUsd,
      now: at,
    })
    const ok = await saveSummary(tx, {
      userId: job.userId,
      summary: result.text,
      lastMessageId,
      expected,
      now: at,
    })
    if (ok)
      await logEvent(tx, 'summary_updated', job.userId, {
        conversation_id: job.convId,
        messages: fresh.length,
        last_message_id: lastMessageId,
        tokens: result.totalTokens,
      })
    return ok
  })
  deps.log.info(
    { userId: job.userId, convId: job.convId, messages: fresh.length, tokens: result.totalTokens, saved },
    saved ? 'summary updated' : 'summary superseded by a newer one; dropped',
  )
  return {
    status: saved ? 'updated' : 'superseded',
    summary: result.text,
    messages: fresh.length,
    lastMessageId,
    result,
  }
}
