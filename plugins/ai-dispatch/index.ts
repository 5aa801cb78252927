import { AppError } from '../../src/errors.ts'
import { replyForTask } from '../../src/kakao/inline.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { newId } from '../../src/store/rows.ts'
import { findDuplicate, insertTask, type TaskInput } from '../../src/store/tasks.ts'

class Duplicate extends Error {}

/**
 * Stores the user's message and its AI task in one transaction, wakes a worker, and replies: the callback ack
 * at once, or (without a callbackUrl) the answer if it comes within the inline budget. No model call ever
 * happens inside the HTTP request.
 */
export default definePlugin({
  name: 'ai-dispatch',
  requires: ['prompt-resolver'],
  setup(deps) {
    const { config } = deps
    return async (turn) => {
      const prompt = turn.prompt!
      const input: TaskInput = {
        messages: [
          { role: 'system', content: prompt.system },
          ...turn.history,
          { role: 'user', content: turn.utterance },
        ],
        model: prompt.model,
        temperature: prompt.temperature,
        maxTokens: prompt.maxTokens,
        prompt:
          prompt.version.version > 0
            ? { id: prompt.version.id, name: prompt.version.name, version: prompt.version.version }
            : null,
      }
      const received = turn.receivedAt.getTime()
      const expiresAt = turn.callbackUrl ? new Date(received + config.kakao.callback_ttl_ms) : null
      // The delivery deadline: with a callback, its lifetime minus a margin; without, the inline wait.
      const deadlineOf = (expires: Date | null) =>
        expires
          ? new Date(Math.max(received, expires.getTime() - config.worker.deadline_margin_ms))
          : new Date(received + config.kakao.inline_wait_ms)
      /** One transaction: the user message and its task, or nothing (a duplicate, or the budget ran out). */
      const enqueue = (requestId: string | null, callbackUrl: string | null, expires: Date | null) =>
        deps.db
          .tx(async (tx) => {
            // Ids are made here, so both inserts go out together (pipelined on PostgreSQL, in order either way).
            const messageId = newId()
            const [, inserted] = await Promise.all([
              insertMessage(tx, {
                id: messageId,
                convId: turn.conversation.id,
                role: 'user',
                content: turn.utterance,
                createdAt: turn.receivedAt,
              }),
              insertTask(tx, {
                userId: turn.user.id,
                convId: turn.conversation.id,
                messageId,
                requestId,
                input,
                callbackUrl,
                expiresAt: expires,
                deadlineAt: deadlineOf(expires),
                maxAttempts: config.worker.max_attempts,
                now: turn.receivedAt,
              }),
            ])
            // A duplicate: roll the message back too.
            if (!inserted) throw new Duplicate()
            // Past the budget the user already has the apology: a task now would answer a turn that is over.
            if (Date.now() > turn.respondBy.getTime()) throw new AppError('INTERNAL', 'turn budget exceeded')
            return inserted
          })
          .catch((err) => {
            if (err instanceof Duplicate) return null
            throw err
          })

      let task = await enqueue(turn.requestId, turn.callbackUrl, expiresAt)
      if (!task) {
        const existing = await findDuplicate(deps.db, {
          requestId: turn.requestId,
          callbackUrl: turn.callbackUrl,
        })
        if (existing?.userId === turn.user.id) {
          // The same request arrived twice at the same moment: the other copy's task answers both.
          task = existing
        } else {
          // Another user's request id or callbackUrl: never share their task; go on without either.
          turn.log.warn('request id or callbackUrl already used by another user; answering without them')
          task = (await enqueue(null, null, null))!
        }
      }
      deps.queue.wake()
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
