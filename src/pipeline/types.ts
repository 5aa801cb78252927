import type * as v from 'valibot'
import type { Config } from '../config.ts'
import type { SkillPayload } from '../kakao/payload.ts'
import type { SkillResponse } from '../kakao/response.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { TaskQueue } from '../queue/types.ts'
import type { Conversation } from '../store/conversations.ts'
import type { Db } from '../store/db.ts'
import type { PromptVersion } from '../store/prompts.ts'
import type { Bucket } from '../store/ratelimit.ts'
import type { ChatMessage } from '../store/tasks.ts'
import type { AppUser } from '../store/users.ts'
import type { Messages } from '../texts.ts'

/** The prompt version chosen for a turn, with its variables rendered. */
export interface ResolvedPrompt {
  version: PromptVersion
  /** The system prompt after `{{…}}` variables were filled in. */
  system: string
  model: string
  temperature: number
  maxTokens: number
}

/**
 * One Kakao request travelling through the pipeline. Plugins read what earlier plugins set and answer by
 * setting `reply` without calling `next()`.
 */
export interface Turn {
  /** Correlates logs: the X-Request-Id when Kakao sent one, else a generated id. */
  readonly id: string
  /** Kakao's X-Request-Id; a repeated one creates no second task. */
  readonly requestId: string | null
  readonly receivedAt: Date
  /** When the turn budget ends: the HTTP reply goes out as an apology if the pipeline has not answered. */
  readonly respondBy: Date
  /**
   * Aborted the moment that apology went out: from then on nothing may be queued. The signal, not a clock
   * comparison with respondBy, is what a plugin checks (a timer and Date.now() can disagree by a millisecond).
   */
  readonly answered: AbortSignal
  readonly payload: SkillPayload
  /** The user's text, trimmed. */
  readonly utterance: string
  /** The callbackUrl when Kakao sent one and it is allowed; null otherwise. */
  readonly callbackUrl: string | null
  /** `action.clientExtra` of the button or quick reply the user pressed ({} when none). */
  readonly clientExtra: Readonly<Record<string, unknown>>
  user: AppUser
  conversation: Conversation
  /** Set at worker time since issue 13 (AnswerRequest); null during the request. */
  prompt: ResolvedPrompt | null
  /** A prompt name that overrides prompt-resolver's routes (crisis-guard sets the safety prompt). */
  promptName?: string
  /** Read at worker time since issue 13 (AnswerRequest.history); [] during the request. */
  history: ChatMessage[]
  /** Prompt variables: user_name, today, summary, … Plugins may add their own before prompt-resolver. */
  vars: Record<string, string>
  reply: SkillResponse | null
  /**
   * Set by rate-limit: ai-dispatch takes one token from this bucket in its enqueue statement (no write of its
   * own per turn) and sets `rateLimited` when the bucket was empty and nothing was queued.
   */
  rateLimit?: Bucket
  rateLimited?: boolean
  /** Set by ai-dispatch once its statement touched the conversation (the turn touches it otherwise). */
  conversationTouched?: boolean
  /**
   * Set when `user` and `conversation` came from the instance's context cache (kakao/context-cache.ts) rather
   * than a read in this request: ai-dispatch's statement then checks that they still hold, with this session
   * cutoff, and throws STALE_CONTEXT when not (nothing written); the turn runs again on a fresh read.
   */
  readonly cachedContext?: { readonly cutoff: Date }
  /** The request's logger; while a plugin runs it also carries `plugin` (set by the pipeline, not by plugins). */
  log: Logger
}

export type Next = () => Promise<void>
export type Handler = (turn: Turn, next: Next) => Promise<void>

/**
 * A turn's model call being prepared by a worker that claimed its task: the worker-time parts of the plugins
 * (prompt-resolver, history-context) read what only the model call needs (the active prompt, the user's current
 * name, the summary, the history) here, seconds after the ack, instead of in the request.
 */
export interface AnswerRequest {
  readonly taskId: string
  readonly userId: string
  readonly convId: string
  /** The task's own user message: the history ends before it. */
  readonly messageId: string | null
  readonly utterance: string
  readonly receivedAt: Date
  readonly promptName: string
  /** Variables known at the ack; a worker-time part adds its own under them. */
  vars: Record<string, string>
  prompt: ResolvedPrompt | null
  history: ChatMessage[]
  log: Logger
}
export type AnswerHandler = (req: AnswerRequest, next: Next) => Promise<void>

/** What ai-dispatch needs from the worker pool of this instance. */
// The queue's interface lives with the queue (a lower layer); plugins keep importing it from here.
export type { TaskQueue } from '../queue/types.ts'

/** The active prompt of a name, cached and invalidated on change on every instance. */
export interface PromptCache {
  active(name: string): Promise<PromptVersion | null>
  invalidate(): void
}

export interface PluginDeps {
  config: Config
  db: Db
  log: Logger
  messages: Messages
  prompts: PromptCache
  queue: TaskQueue
  now(): Date
  /** `metrics.rateLimited()`, `metrics.crisisFlagged()` for plugins that answer without the model. */
  metrics?: Metrics
}

/**
 * A pipeline plugin. `name` is kebab-case and equals its folder under plugins/ and its config key; options
 * come from `[plugins.<name>]` and are validated with `options` when the pipeline is built.
 *
 * @example
 *   export default definePlugin({
 *     name: 'greeting',
 *     requires: ['prompt-resolver'],
 *     setup: () => async (turn, next) => {
 *       if (turn.utterance === '안녕') turn.reply = textResponse('안녕하세요!')
 *       else await next()
 *     },
 *   })
 */
export interface Plugin<O = undefined> {
  name: string
  /** Plugins that must come earlier in the order. */
  requires?: readonly string[]
  options?: v.GenericSchema<unknown, O>
  setup(deps: PluginDeps, options: O): Handler | Promise<Handler>
  /** The plugin's worker-time part (optional), run in pipeline order when a worker claims a turn's task. */
  compose?(deps: PluginDeps, options: O): AnswerHandler | Promise<AnswerHandler>
}

export const definePlugin = <O = undefined>(plugin: Plugin<O>): Plugin<O> => plugin
