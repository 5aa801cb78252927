import type { AiClient, AiResult } from '../ai/client.ts'
import { backoffMs, classifyFailure } from '../ai/retry.ts'
import type { Config } from '../config.ts'
import type { Delivery } from '../delivery/delivery.ts'
import type { Logger } from '../logger.ts'
import { type Metrics, noMetrics } from '../metrics/registry.ts'
import { defineTaskHandler } from '../queue/types.ts'
import { applyModeration, moderate } from '../safety/moderation.ts'
import { touchConversation } from '../store/conversations.ts'
import type { Db } from '../store/db.ts'
import { insertMessage } from '../store/messages.ts'
import { insertPromptLog } from '../store/promptlog.ts'
import { newId } from '../store/rows.ts'
import { AI_ANSWER_KIND, isDeferredInput, type Task, type TaskInput } from '../store/tasks.ts'
import { getUser } from '../store/users.ts'

export interface AiAnswerDeps {
  db: Db
  config: Config
  ai: AiClient
  delivery: Delivery
  metrics?: Metrics
  /**
   * Builds the model's input for a task stored with a DeferredInput (the pipeline's worker-time part, injected
   * by src/kbot.ts: this layer does not import the pipeline). Tasks stored with `messages` need none.
   */
  compose?: (task: Task) => Promise<TaskInput>
}

/**
 * Answers one Kakao turn with the model: the model call, then the assistant message, its promptlog row and
 * the task's completion in one fenced transaction, then the callback. The callback promise is kept here too:
 * when an attempt (or the next retry) cannot finish before the delivery deadline, the callback carries the
 * apology now and the answer waits for "답변 확인".
 */
export function aiAnswerHandler(deps: AiAnswerDeps) {
  const { config, ai, delivery } = deps
  const metrics = deps.metrics ?? noMetrics
  /**
   * SAFETY_MODERATION: the utterance also goes to the moderation endpoint; a positive result that the lexicon
   * missed flags the conversation for a person (no second callback). A failure here is logged, never fatal.
   */
  async function secondOpinion(task: Task<TaskInput>, input: TaskInput, log: Logger): Promise<void> {
    if (!config.safety.moderation || !ai.sdk || !task.convId || !task.userId || task.attempts > 1) return
    const utterance = input.messages.findLast((m) => m.role === 'user')?.content
    if (!utterance) return
    try {
      const verdict = await moderate(ai.sdk, utterance, config.safety.moderation_model)
      const user = await getUser(deps.db, task.userId)
      const alert = await applyModeration(deps.db, {
        taskId: task.id,
        conversationId: task.convId,
        userId: task.userId,
        userName: user?.name ?? null,
        verdict,
        now: new Date(),
      })
      if (alert) {
        metrics.crisisFlagged()
        log.warn({ alertId: alert.alertId, kinds: alert.kinds }, 'moderation flagged what the lexicon missed')
      }
    } catch (err) {
      log.warn({ err }, 'moderation check failed; the answer goes on without it')
    }
  }

  return defineTaskHandler<TaskInput>({
    kind: AI_ANSWER_KIND,
    async run(task, ctx) {
      let callbackLive = task.callbackStatus === 'pending'
      const timeLeft = task.deadlineAt.getTime() - Date.now()
      if (callbackLive && timeLeft < config.worker.min_attempt_ms) {
        // Too late for this attempt to make the callback: apologise now; the answer will wait for "답변 확인".
        ctx.background(delivery.deliver(task))
        callbackLive = false
      }
      const timeoutMs = callbackLive ? Math.min(config.openai.timeout_ms, timeLeft) : config.openai.timeout_ms
      // Composed now (prompt, summary, history) when the ack stored only the turn; older tasks carry it whole.
      const deferred = isDeferredInput(task.input)
      if (deferred && !deps.compose)
        throw new Error('a deferred ai_answer task needs the pipeline to compose it')
      const input = deferred ? await deps.compose!(task) : task.input
      // The moderation second opinion runs beside the model call, never in its way.
      const moderation = secondOpinion(task, input, ctx.log)
      const result: AiResult = await ai.complete(input, { signal: ctx.signal, timeoutMs })
      await moderation
      metrics.model(result)
      const completed = await ctx.complete(async (tx) => {
        if (!task.convId)
          return { aiResponse: result.text, responseMessageId: null, tokensUsed: result.totalTokens }
        const messageId = newId()
        await insertMessage(tx, {
          id: messageId,
          convId: task.convId,
          role: 'assistant',
          content: result.text,
          tokens: result.completionTokens,
        })
        await insertPromptLog(tx, {
          messageId,
          taskId: task.id,
          userId: task.userId,
          input,
          result,
        })
        await touchConversation(tx, task.convId)
        return {
          aiResponse: result.text,
          responseMessageId: messageId,
          tokensUsed: result.totalTokens,
          // Ops views (model, prompt) read the task's input: keep what the model was given, written by the
          // completion's own update (one row version, one statement fewer).
          ...(deferred && { input }),
        }
      })
      if (completed) ctx.log.debug({ latencyMs: result.latencyMs, tokens: result.totalTokens }, 'answered')
    },
    classify: classifyFailure,
    // Not capped by the deadline: a model that said "retry after" is not asked earlier; the callback gets the
    // apology instead (onRetry).
    backoffMs: (task, info) => backoffMs(task.attempts, info.retryAfterMs),
    onRetry(task, { runAfter }, ctx) {
      // (If this attempt already apologised, the callback is used and delivering again does nothing.)
      if (
        task.callbackStatus === 'pending' &&
        runAfter.getTime() + config.worker.min_attempt_ms > task.deadlineAt.getTime()
      ) {
        // The next attempt cannot finish before the callback expires: use it for the apology now.
        ctx.background(delivery.deliver(task))
      }
    },
    onCompleted(task, ctx) {
      if (task.callbackStatus === 'pending') ctx.background(delivery.deliver(task))
    },
    onFailed(task, ctx) {
      if (task.callbackStatus === 'pending') ctx.background(delivery.deliver(task))
    },
  })
}
