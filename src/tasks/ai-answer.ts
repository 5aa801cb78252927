import type { AiClient, AiResult } from '../ai/client.ts'
import { backoffMs, classifyFailure } from '../ai/retry.ts'
import type { Config } from '../config.ts'
import type { Delivery } from '../delivery/delivery.ts'
import { type Metrics, noMetrics } from '../metrics/registry.ts'
import { defineTaskHandler } from '../queue/types.ts'
import { touchConversation } from '../store/conversations.ts'
import { insertMessage } from '../store/messages.ts'
import { insertPromptLog } from '../store/promptlog.ts'
import { newId } from '../store/rows.ts'
import { AI_ANSWER_KIND, type TaskInput } from '../store/tasks.ts'

export interface AiAnswerDeps {
  config: Config
  ai: AiClient
  delivery: Delivery
  metrics?: Metrics
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
      const result: AiResult = await ai.complete(task.input, { signal: ctx.signal, timeoutMs })
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
          input: task.input,
          result,
        })
        await touchConversation(tx, task.convId)
        return { aiResponse: result.text, responseMessageId: messageId, tokensUsed: result.totalTokens }
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
