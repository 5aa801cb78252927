import * as v from 'valibot'
import { AppError } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { uuidOrNull } from '../store/rows.ts'
import { countTasks, findTasks } from '../store/task-queries.ts'
import { getTask, retryFailedTask, TASK_STATUSES, type Task, type TaskStatus } from '../store/tasks.ts'
import { parseInput } from './validate.ts'

/** The one JSON view of a task: /user/ai-status, the admin API and `kbot tasks --json` all answer with it. */
export function taskView(t: Task) {
  return {
    task_id: t.id,
    status: t.status,
    ai_response: t.aiResponse,
    tokens_used: t.tokensUsed,
    attempts: t.attempts,
    max_attempts: t.maxAttempts,
    error: t.error,
    callback_status: t.callbackStatus,
    user_id: t.userId,
    conversation_id: t.convId,
    request_id: t.requestId,
    model: t.input.model,
    prompt: t.input.prompt,
    created_at: t.createdAt.toISOString(),
    started_at: t.startedAt?.toISOString() ?? null,
    completed_at: t.completedAt?.toISOString() ?? null,
    delivered_at: t.deliveredAt?.toISOString() ?? null,
    deadline_at: t.deadlineAt.toISOString(),
  }
}

export type TaskView = ReturnType<typeof taskView>

/** The public `GET /user/ai-status/:task_id` (SPEC §4): the same view, without the operator's fields. */
export function userTaskView(t: Task) {
  const {
    task_id,
    status,
    ai_response,
    tokens_used,
    attempts,
    error,
    callback_status,
    created_at,
    completed_at,
  } = taskView(t)
  return {
    task_id,
    status,
    ai_response,
    tokens_used,
    attempts,
    error,
    callback_status,
    created_at,
    completed_at,
  }
}

/** A whole number from a query string ("20") or JSON (20). */
const wholeNumber = v.pipe(
  v.union([v.string(), v.number()], 'must be a whole number'),
  v.transform(String),
  v.regex(/^\d{1,9}$/, 'must be a whole number'),
  v.transform(Number),
)

export const TaskListQuery = v.strictObject({
  status: v.optional(v.picklist(TASK_STATUSES, `must be one of ${TASK_STATUSES.join(', ')}`)),
  limit: v.optional(
    v.pipe(wholeNumber, v.minValue(1, 'must be at least 1'), v.maxValue(500, 'must be at most 500')),
    50,
  ),
  offset: v.optional(wholeNumber, 0),
})

export interface TaskPage {
  tasks: TaskView[]
  total: number
  limit: number
  offset: number
}

/** Newest first, `?status&limit&offset` (admin API and `kbot tasks list`); input is validated field by field. */
export async function listTaskPage(deps: { db: Db }, query: unknown): Promise<TaskPage> {
  const q = parseInput(TaskListQuery, query)
  const filter = q.status ? { status: q.status as TaskStatus } : {}
  const [tasks, total] = await Promise.all([
    findTasks(deps.db, { ...filter, limit: q.limit, offset: q.offset }),
    countTasks(deps.db, filter),
  ])
  return { tasks: tasks.map(taskView), total, limit: q.limit, offset: q.offset }
}

export async function findTask(db: Db, id: string): Promise<Task> {
  const key = uuidOrNull(id)
  const task = key ? await getTask(db, key) : null
  if (!task) throw new AppError('NOT_FOUND', `no task with id ${id}`)
  return task
}

export interface RetryOutcome {
  task: Task
  /** How the answer will reach the user. */
  delivery: 'callback' | 'next-message'
  note: string
}

/**
 * Puts a failed task back to pending with fresh attempts (CLI `kbot tasks retry`, admin API). The callback is
 * reused only if it was never used and has not expired; otherwise the answer is held until the user asks for it
 * ("답변 확인", served by late-answer), which they must do themselves: nothing tells them it is ready.
 */
export async function retryTask(db: Db, id: string, now = new Date()): Promise<RetryOutcome> {
  const existing = await findTask(db, id)
  if (existing.status !== 'failed') {
    throw new AppError('CONFLICT', `task ${id} is ${existing.status}; only failed tasks can be retried`)
  }
  const task = await retryFailedTask(db, existing.id, { deadlineAt: now, now })
  if (!task) throw new AppError('CONFLICT', `task ${id} changed while retrying; try again`)
  await logEvent(db, 'task_retried', task.userId, { task_id: task.id })
  const usable = task.callbackStatus === 'pending' && task.expiresAt !== null && task.expiresAt > now
  if (usable) {
    return {
      task,
      delivery: 'callback',
      note: `the callback is still unused and valid until ${task.expiresAt!.toISOString()}: the answer will be sent through it`,
    }
  }
  const why =
    task.callbackStatus === 'none' || task.callbackStatus === 'inline'
      ? 'the request had no callback'
      : `the callback is ${task.callbackStatus === 'pending' ? 'expired' : `already used (${task.callbackStatus})`}`
  return {
    task,
    delivery: 'next-message',
    note:
      `${why}: kbot cannot push the answer to the user. It is kept and shown when the user next taps or types ` +
      `"답변 확인" (late-answer, for tasks created within its max_age_hours, 24 h by default)`,
  }
}

/** `kbot tasks retry --failed [--since]`: every failed task (created since `since`), oldest first. */
export async function retryFailedSince(
  db: Db,
  since: Date | undefined,
  now = new Date(),
): Promise<{ retried: RetryOutcome[]; skipped: { task_id: string; reason: string }[] }> {
  const failed = await findTasks(db, {
    status: 'failed',
    ...(since ? { since } : {}),
    limit: 10_000,
    offset: 0,
  })
  const retried: RetryOutcome[] = []
  const skipped: { task_id: string; reason: string }[] = []
  for (const task of failed.reverse()) {
    try {
      retried.push(await retryTask(db, task.id, now))
    } catch (err) {
      // Another operator or instance changed it meanwhile; the rest still go.
      skipped.push({ task_id: task.id, reason: (err as Error).message })
    }
  }
  return { retried, skipped }
}

/** The JSON of a retry: the task and how its answer will reach the user. */
export const retryView = (o: RetryOutcome) => ({ task: taskView(o.task), delivery: o.delivery, note: o.note })
