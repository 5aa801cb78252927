import { answerReply, failedReply } from '../delivery/delivery.ts'
import type { TaskQueue } from '../pipeline/types.ts'
import type { Db } from '../store/db.ts'
import { markInline } from '../store/task-delivery.ts'
import type { Task } from '../store/tasks.ts'
import type { Messages } from '../texts.ts'
import { ackResponse, checkReply, type SkillResponse, textResponse } from './response.ts'

export const pendingReply = (messages: Messages, taskId: string): SkillResponse =>
  textResponse(messages.pending, [checkReply(messages.check_label, taskId)])

/**
 * The HTTP reply for an accepted task. With a callbackUrl: the `useCallback` ack, at once. Without one: wait
 * for the answer until `until`, answer inline if it came, else say it is being prepared ("답변 확인" serves it).
 */
export async function replyForTask(
  task: Task,
  deps: { db: Db; queue: TaskQueue; messages: Messages; until: number },
): Promise<SkillResponse> {
  if (task.callbackUrl) return ackResponse(deps.messages.ack)
  const finished =
    task.status === 'completed' || task.status === 'failed'
      ? task
      : await deps.queue.waitFor(task.id, Math.max(0, deps.until - Date.now()))
  if (finished?.status === 'completed' && finished.aiResponse) {
    const reply = answerReply(finished.aiResponse, deps.messages)
    // Only one reply may claim the answer as delivered inline; a duplicate request still gets the same text.
    await markInline(deps.db, finished.id, reply.remaining)
    return reply.response
  }
  if (finished?.status === 'failed') return failedReply(deps.messages)
  return pendingReply(deps.messages, task.id)
}
