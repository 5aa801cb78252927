import * as v from 'valibot'
import type { AiClient } from '../ai/client.ts'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { nameVars } from '../names/josa.ts'
import { koreanDate, koreanTime, renderPrompt } from '../prompts/render.ts'
import type { Db } from '../store/db.ts'
import { getPromptById } from '../store/prompts.ts'
import { uuidOrNull } from '../store/rows.ts'
import { parseInput } from './validate.ts'

const Turn = v.strictObject({
  role: v.picklist(['user', 'assistant'], 'must be "user" or "assistant"'),
  content: v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(4000)),
})

export const PreviewBody = v.strictObject({
  prompt_id: v.string('must be a prompt version id'),
  /** The chat so far, ending with the user's turn. */
  messages: v.pipe(
    v.array(Turn, 'must be a list of {role, content}'),
    v.minLength(1, 'needs at least one message'),
    v.maxLength(40, 'at most 40 messages'),
    v.check((m) => m[m.length - 1]?.role === 'user', 'the last message must be the user’s'),
  ),
  user_name: v.optional(v.pipe(v.string(), v.maxLength(20))),
  summary: v.optional(v.pipe(v.string(), v.maxLength(4000))),
})

export interface PreviewDeps {
  db: Db
  ai: AiClient
  config: Config
  timeZone?: string
  now?: () => Date
}

/**
 * `POST /admin/prompts/preview`: runs a prompt version (active or not) against the model with a chat the
 * operator types. Nothing is written: no user, conversation, message, task or promptlog row.
 */
export async function previewPrompt(deps: PreviewDeps, input: unknown) {
  const body = parseInput(PreviewBody, input)
  const id = uuidOrNull(body.prompt_id)
  const version = id ? await getPromptById(deps.db, id) : null
  if (!version) throw new AppError('NOT_FOUND', `no prompt version with id ${body.prompt_id}`)
  const now = deps.now?.() ?? new Date()
  const vars = {
    ...nameVars(body.user_name ?? null),
    today: koreanDate(now, deps.timeZone),
    now: koreanTime(now, deps.timeZone),
    summary: body.summary ?? '',
    bot_name: '',
  }
  const system = renderPrompt(version.systemPrompt, vars)
  const result = await deps.ai.complete(
    {
      messages: [{ role: 'system', content: system }, ...body.messages],
      model: version.model ?? deps.config.openai.model,
      temperature: version.temperature ?? deps.config.openai.temperature,
      maxTokens: version.maxTokens ?? deps.config.openai.max_tokens,
      prompt: { id: version.id, name: version.name, version: version.version },
    },
    { timeoutMs: deps.config.openai.timeout_ms },
  )
  return {
    prompt: { id: version.id, name: version.name, version: version.version },
    system,
    reply: result.text,
    model: result.model,
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.totalTokens,
    cost_usd: result.costUsd,
    latency_ms: result.latencyMs,
  }
}
