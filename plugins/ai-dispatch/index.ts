import { AppError } from '../../src/errors.ts'
import { replyForTask } from '../../src/kakao/inline.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import type { Bucket } from '../../src/store/ratelimit.ts'
import { newId } from '../../src/store/rows.ts'
import { type DeferredInput, findDuplicate } from '../../src/store/tasks.ts'
import { enqueueTurnTask } from '../../src/store/turn-enqueue.ts'

/**
 * Stores the user's message and its AI task in one statement (with the rate-limit token and the wake-up
 * NOTIFY, see enqueueTurnTask), wakes a worker, and replies: the callback ack
 * at once, or (without a callbackUrl) the answer if it comes within the inline budget. No model call ever
 * happens inside the HTTP request.
 */
export default definePlugin({
  name: 'ai-dispatch',
  requires: ['prompt-resolver'],
  setup(deps) {
    const { config } = deps
    return async (turn) => {
      // Only what the ack knows: the worker composes the prompt, summary and history when it claims the task.
      const input: DeferredInput = {
        v: 2,
        utterance: turn.utterance,
        promptName: turn.promptName ?? 'default',
        vars: turn.vars,
        receivedAt: turn.receivedAt.toISOString(),
      }
      const received = turn.receivedAt.getTime()
      const expiresAt = turn.callbackUrl ? new Date(received + config.kakao.callback_ttl_ms) : null
      // The delivery deadline: with a callback, its lifetime minus a margin; without, the inline wait.
      const deadlineOf = (expires: Date | null) =>
        expires
          ? new Date(Math.max(received, expires.getTime() - config.worker.deadline_margin_ms))
          : new Date(received + config.kakao.inline_wait_ms)
      /** The ack's one write (see enqueueTurnTask): the user message and its task, or nothing. */
      const enqueue = async (
        requestId: string | null,
        callbackUrl: string | null,
        expires: Date | null,
        bucket: Bucket | null,
      ) => {
        // Past the budget the user already has the apology: a task now would answer a turn that is over.
        if (turn.answered.aborted) throw new AppError('INTERNAL', 'turn budget exceeded')
        const askedAt = performance.now()
        const notifyChannel = deps.queue.notifyChannel?.() ?? null
        const out = await enqueueTurnTask(deps.db, {
          userId: turn.user.id,
          convId: turn.conversation.id,
          messageId: newId(),
          content: turn.utterance,
          requestId,
          input,
          callbackUrl,
          expiresAt: expires,
          deadlineAt: deadlineOf(expires),
          maxAttempts: config.worker.max_attempts,
          now: turn.receivedAt,
          bucket,
          notifyChannel,
          expect: turn.cachedContext
            ? {
                userUpdatedAt: turn.user.updatedAt,
                cutoff: turn.cachedContext.cutoff,
                flagged: turn.conversation.flaggedAt !== null,
              }
            : null,
        })
        if (out.stale)
          throw new AppError('STALE_CONTEXT', 'the cached user or conversation changed; nothing was written')
        // A NOTIFY that went out with the commit woke the others; otherwise this instance's workers wake, or the
        // others a little later (unless a later ack's statement carries the NOTIFY first).
        if (out.task) {
          if (deps.queue.committed) deps.queue.committed(out.notified ? askedAt : null)
          else deps.queue.wake()
        }
        return out
      }

      const first = await enqueue(turn.requestId, turn.callbackUrl, expiresAt, turn.rateLimit ?? null)
      if (first.limited) {
        turn.rateLimited = true
        return
      }
      turn.conversationTouched = true
      let task = first.task
      if (!task) {
        const existing = await findDuplicate(deps.db, {
          requestId: turn.requestId,
          callbackUrl: turn.callbackUrl,
        })
        if (existing?.userId === turn.user.id) {
          // The same request delivered again (found by the statement when the turn was decided on remembered
          // state, or two copies at the same moment): the first copy's task answers both.
          turn.log.info({ taskId: existing.id }, 'duplicate delivery of a request: no second task')
          task = existing
        } else {
          // Another user's request id or callbackUrl: never share their task; go on without either.
          turn.log.warn('request id or callbackUrl already used by another user; answering without them')
          task = (await enqueue(null, null, null, null)).task!
        }
      }
      turn.log.debug({ taskId: task.id, callback: Boolean(turn.callbackUrl) }, 'task queued')
      turn.reply = await replyForTask(task, {
        db: deps.db,
        queue: deps.queue,
        messages: deps.messages,
        until: received + config.kakao.inline_wait_ms,
      })
    }
  },
})
