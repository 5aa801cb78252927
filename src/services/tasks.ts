import { AppError } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { uuidOrNull } from '../store/rows.ts'
import { retryFailedTask } from '../store/task-admin.ts'
import { getTask, type Task } from '../store/tasks.ts'

export interface RetryOutcome {
  task: Task
  /** How the answer will reach the user. */
  delivery: 'callback' | 'next-message'
  note: string
}

/**
 * Puts a failed task back to pending with fresh attempts (CLI `kbot tasks retry`, admin API). The callback is
 * reused only if it was never used and has not expired; otherwise the answer waits for "답변 확인".
 */
export async function retryTask(db: Db, id: string, now = new Date()): Promise<RetryOutcome> {
  const key = uuidOrNull(id)
  const existing = key ? await getTask(db, key) : null
  if (!existing) throw new AppError('NOT_FOUND', `no task with id ${id}`)
  if (existing.status !== 'failed') {
    throw new AppError('CONFLICT', `task ${id} is ${existing.status}; only failed tasks can be retried`)
  }
  const task = await retryFailedTask(db, existing.id, { deadlineAt: now, now })
  if (!task) throw new AppError('CONFLICT', `task ${id} changed while retrying; try again`)
  await logEvent(db, 'task_retried', task.userId, { task_id: task.id })
  const usable = task.callbackStatus === 'pending' && task.expiresAt !== null && task.expiresAt > now
  return usable
    ? {
        task,
        delivery: 'callback',
        note: 'the callback is still unused and valid: the answer will be sent through it',
      }
    : {
        task,
        delivery: 'next-message',
        note: 'the callback is used or expired: the answer will wait until the user taps "답변 확인"',
      }
}

export async function findTask(db: Db, id: string): Promise<Task> {
  const key = uuidOrNull(id)
  const task = key ? await getTask(db, key) : null
  if (!task) throw new AppError('NOT_FOUND', `no task with id ${id}`)
  return task
}
