import { replyForTask } from '../../src/kakao/inline.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { newId } from '../../src/store/rows.ts'
import { getTaskByRequestId, insertTask, type Task, type TaskInput } from '../../src/store/tasks.ts'

class DuplicateRequest extends Error {}

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
      const deadlineAt = expiresAt
        ? new Date(Math.max(received, expiresAt.getTime() - config.worker.deadline_margin_ms))
        : new Date(received + config.kakao.inline_wait_ms)
      let task: Task
      try {
        task = await deps.db.tx(async (tx) => {
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
              requestId: turn.requestId,
              input,
              callbackUrl: turn.callbackUrl,
              expiresAt,
              deadlineAt,
              maxAttempts: config.worker.max_attempts,
              now: turn.receivedAt,
            }),
          ])
          if (!inserted) throw new DuplicateRequest()
          return inserted
        })
      } catch (err) {
        if (!(err instanceof DuplicateRequest)) throw err
        // The same request arrived twice at the same moment: the other copy's task answers both.
        task = (await getTaskByRequestId(deps.db, turn.requestId!))!
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
