import type { Config } from '../config.ts'
import { checkReply, quickReply, type SkillResponse, textResponse } from '../kakao/response.ts'
import { shapeAnswer } from '../kakao/shape.ts'
import type { Logger } from '../logger.ts'
import { type Metrics, noMetrics } from '../metrics/registry.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { claimCallback, recordCallbackOutcome } from '../store/task-delivery.ts'
import type { Task } from '../store/tasks.ts'
import type { Messages } from '../texts.ts'
import { type CallbackOutcome, postCallback } from './callback.ts'

export interface AnswerReply {
  response: SkillResponse
  /** Text that did not fit, for "자세히". */
  remaining: string | null
}

/** The SkillResponse for a finished answer: up to 3 bubbles, and "자세히" when more is waiting. */
export function answerReply(answer: string, messages: Messages): AnswerReply {
  const { bubbles, remaining } = shapeAnswer(answer)
  const quick = remaining ? [quickReply(messages.more_label)] : []
  return { response: textResponse(bubbles.length > 0 ? bubbles : [messages.failed], quick), remaining }
}

/** A short apology that tells the user how to get the answer later ("답변 확인"). */
export const apologyReply = (messages: Messages, kind: 'slow' | 'busy', taskId: string): SkillResponse =>
  textResponse(messages[kind], [checkReply(messages.check_label, taskId)])

export const failedReply = (messages: Messages): SkillResponse => textResponse(messages.failed)

export interface DeliveryDeps {
  db: Db
  config: Config
  log: Logger
  messages: Messages
  post?: (url: string, body: SkillResponse, timeoutMs: number) => Promise<CallbackOutcome>
  metrics?: Metrics
}

export interface Delivery {
  /**
   * Uses the task's callbackUrl, once: the answer when it is ready, the failure apology when the task failed,
   * otherwise the "still working" apology (the answer then waits for "답변 확인"). Does nothing when the callback
   * is already used, expired, or taken by another worker or instance at the same moment.
   */
  deliver(task: Task, opts?: DeliverOptions): Promise<void>
}

export interface DeliverOptions {
  /**
   * Called once the callback's claim has been tried (taken by this call or by another), before the POST. The
   * delivery guard reads its next due batch after it (a claimed callback is no longer due). Not called when
   * there is nothing to claim: the call then returns at once.
   */
  onClaim?: () => void
}

export function createDelivery(deps: DeliveryDeps): Delivery {
  const post = deps.post ?? postCallback
  const settleMs = deps.config.kakao.callback_settle_ms
  const metrics = deps.metrics ?? noMetrics

  return {
    async deliver(task, opts = {}) {
      if (task.callbackStatus !== 'pending' || !task.callbackUrl) return
      // Kakao rejects a callback that races the skill response as an invalid token: let the ack land first.
      const settleAt = task.createdAt.getTime() + settleMs
      if (Date.now() < settleAt) await Bun.sleep(settleAt - Date.now())
      const now = new Date()
      if (task.expiresAt && now >= task.expiresAt) return // the guard marks it expired
      // A task handed over completed (the worker's own, the usual case) is claimed and counted as delivered in
      // one statement: its answer is final, so its reply is known before the claim.
      const known =
        task.status === 'completed' && task.aiResponse !== null
          ? { text: task.aiResponse, reply: answerReply(task.aiResponse, deps.messages) }
          : null
      const claimed = await claimCallback(
        deps.db,
        task.id,
        now,
        known ? { text: known.text, remainingText: known.reply.remaining } : undefined,
      )
      opts.onClaim?.()
      if (!claimed) return
      const log = deps.log.child({ taskId: claimed.id })
      let body: SkillResponse
      let remaining: string | null = null
      const isAnswer = claimed.status === 'completed' && claimed.aiResponse !== null
      const countedByClaim = isAnswer && known !== null && claimed.aiResponse === known.text
      if (isAnswer) {
        const reply = countedByClaim ? known.reply : answerReply(claimed.aiResponse!, deps.messages)
        body = reply.response
        remaining = reply.remaining
      } else {
        body =
          claimed.status === 'failed'
            ? failedReply(deps.messages)
            : // Never started: the queue was too deep (admission), not the model too slow.
              apologyReply(deps.messages, claimed.startedAt === null ? 'busy' : 'slow', claimed.id)
      }
      // The answer counts as delivered (and its rest is kept for "자세히") before the POST: the user sees the
      // bubble the moment Kakao has it, and may tap "자세히" (or type "답변 확인") before Kakao's reply reaches us.
      // A failed POST takes it back below.
      if (isAnswer && !countedByClaim)
        await recordCallbackOutcome(deps.db, claimed.id, {
          status: 'sent',
          error: null,
          deliveredAnswer: true,
          remainingText: remaining,
        })
      const timeoutMs = claimed.expiresAt ? claimed.expiresAt.getTime() - Date.now() : 10_000
      const outcome = await post(claimed.callbackUrl!, body, Math.min(10_000, timeoutMs))
      const error = outcome.ok ? null : (outcome.message ?? `HTTP ${outcome.httpStatus}`)
      if (!outcome.ok || !isAnswer)
        await recordCallbackOutcome(deps.db, claimed.id, {
          status: outcome.ok ? 'sent' : 'rejected',
          error,
          deliveredAnswer: false,
          revokeAnswer: isAnswer,
        })
      metrics.callback(outcome.ok ? 'sent' : 'rejected')
      if (outcome.ok) {
        log.debug(
          { kind: isAnswer ? 'answer' : claimed.status === 'failed' ? 'failed' : 'slow' },
          'callback sent',
        )
      } else {
        log.warn(
          { httpStatus: outcome.httpStatus, kakaoStatus: outcome.kakaoStatus, error },
          'callback rejected',
        )
        await logEvent(deps.db, 'callback_rejected', claimed.userId, {
          task_id: claimed.id,
          http_status: outcome.httpStatus,
          kakao_status: outcome.kakaoStatus,
          message: error,
        })
      }
    },
  }
}
