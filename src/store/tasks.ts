import type { Db } from './db.ts'
import { newId, toDate, toDateOrNull, toJson, toNumOrNull } from './rows.ts'

export type TaskStatus = 'pending' | 'processing' | 'completed' | 'failed'
export type CallbackStatus = 'none' | 'pending' | 'sent' | 'rejected' | 'expired' | 'inline'

export const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'processing', 'completed', 'failed']

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** Everything the worker needs for the model call, fixed when the turn was accepted. */
export interface TaskInput {
  messages: ChatMessage[]
  model: string
  temperature: number
  maxTokens: number
  prompt: { id: string; name: string; version: number } | null
}

/**
 * What a Kakao turn's task stores since issue 13: only what the ack knows. The prompt, the summary and the
 * history are read when a worker claims it (the pipeline's worker-time part builds the TaskInput then).
 * Tasks stored before hold a TaskInput (`messages`) and run unchanged.
 */
export interface DeferredInput {
  v: 2
  utterance: string
  promptName: string
  /** Variables known at the ack (bot_name, and whatever plugins set); worker-time ones come first. */
  vars: Record<string, string>
  /** When the turn arrived (ISO): {{today}} and {{now}}. */
  receivedAt: string
}

export const isDeferredInput = (input: unknown): input is DeferredInput =>
  typeof input === 'object' && input !== null && (input as { v?: unknown }).v === 2

/** The kind every Kakao turn's task has (and every row from before migration 0002). */
export const AI_ANSWER_KIND = 'ai_answer'

/**
 * A row of aiprocessingtask. `input` is what the task's kind needs; for `ai_answer` it is a TaskInput, other
 * kinds type it through their handler (`Task<MyInput>`).
 */
export interface Task<I = TaskInput> {
  id: string
  /** Which handler runs it (`ai_answer` for a Kakao turn). */
  kind: string
  /** Set when the task must exist at most once (a periodic job's run); unique across the table. */
  dedupeKey: string | null
  /** Null for background kinds that belong to nobody (a periodic job). */
  userId: string | null
  convId: string | null
  messageId: string | null
  requestId: string | null
  status: TaskStatus
  input: I
  callbackUrl: string | null
  callbackStatus: CallbackStatus
  callbackSentAt: Date | null
  callbackError: string | null
  /** When Kakao's callbackUrl stops working (null without a callback). */
  expiresAt: Date | null
  /** The delivery deadline: the callback POST (answer or apology) goes out before this. */
  deadlineAt: Date
  attempts: number
  maxAttempts: number
  runAfter: Date
  leaseOwner: string | null
  leaseUntil: Date | null
  aiResponse: string | null
  responseMessageId: string | null
  tokensUsed: number | null
  error: string | null
  /** Text that did not fit into the delivered bubbles; served by "자세히". */
  remainingText: string | null
  createdAt: Date
  startedAt: Date | null
  completedAt: Date | null
  deliveredAt: Date | null
  updatedAt: Date
}

export type Row = Record<string, unknown>

export const toTask = (r: Row): Task => ({
  id: String(r.id),
  kind: (r.kind as string | undefined) ?? AI_ANSWER_KIND,
  dedupeKey: (r.dedupe_key as string | null) ?? null,
  userId: (r.user_id as string | null) ?? null,
  convId: (r.conv_id as string | null) ?? null,
  messageId: (r.message_id as string | null) ?? null,
  requestId: (r.request_id as string | null) ?? null,
  status: r.status as TaskStatus,
  input: toJson<TaskInput>(r.input),
  callbackUrl: (r.callback_url as string | null) ?? null,
  callbackStatus: r.callback_status as CallbackStatus,
  callbackSentAt: toDateOrNull(r.callback_sent_at),
  callbackError: (r.callback_error as string | null) ?? null,
  expiresAt: toDateOrNull(r.expires_at),
  deadlineAt: toDate(r.deadline_at),
  attempts: Number(r.attempts),
  maxAttempts: Number(r.max_attempts),
  runAfter: toDate(r.run_after),
  leaseOwner: (r.lease_owner as string | null) ?? null,
  leaseUntil: toDateOrNull(r.lease_until),
  aiResponse: (r.ai_response as string | null) ?? null,
  responseMessageId: (r.response_message_id as string | null) ?? null,
  tokensUsed: toNumOrNull(r.tokens_used),
  error: (r.error as string | null) ?? null,
  remainingText: (r.remaining_text as string | null) ?? null,
  createdAt: toDate(r.created_at),
  startedAt: toDateOrNull(r.started_at),
  completedAt: toDateOrNull(r.completed_at),
  deliveredAt: toDateOrNull(r.delivered_at),
  updatedAt: toDate(r.updated_at),
})

export interface NewTask {
  userId: string
  convId: string
  messageId: string
  requestId: string | null
  input: TaskInput | DeferredInput
  callbackUrl: string | null
  expiresAt: Date | null
  deadlineAt: Date
  maxAttempts: number
  now: Date
}

/**
 * Inserts a task; returns null when a task with the same request id or the same callbackUrl already exists
 * (a duplicate delivery of one request).
 */
export async function insertTask(db: Db, t: NewTask): Promise<Task | null> {
  const params = answerTaskParams(t)
  const rows = await db.query<Row>(
    `insert into aiprocessingtask
       (id, user_id, conv_id, message_id, request_id, input, callback_url, callback_status,
        expires_at, deadline_at, max_attempts, run_after, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12)
     on conflict do nothing
     returning id`,
    params,
  )
  return rows[0] ? insertedTask(params) : null
}

/**
 * The task an answer-task insert wrote, from its `answerTaskParams` and the table's defaults: the inserts
 * return only the id, so that the ack reads back none of the row it has just written (30 columns, the input
 * JSON among them).
 */
export function insertedTask(p: readonly unknown[]): Task {
  const at = p[11] as Date
  return toTask({
    id: p[0],
    user_id: p[1],
    conv_id: p[2],
    message_id: p[3],
    request_id: p[4],
    input: p[5],
    callback_url: p[6],
    callback_status: p[7],
    expires_at: p[8],
    deadline_at: p[9],
    max_attempts: p[10],
    run_after: at,
    created_at: at,
    updated_at: at,
    status: 'pending',
    attempts: 0,
  })
}

/**
 * `$1…$12` of an answer task's insert: id, user, conversation, message, request id, input, callbackUrl, callback
 * status, expiry, deadline, attempts, time. Shared by `insertTask` and the ack's one-statement enqueue.
 */
export const answerTaskParams = (t: NewTask): unknown[] => [
  newId(),
  t.userId,
  t.convId,
  t.messageId,
  t.requestId,
  t.input,
  t.callbackUrl,
  t.callbackUrl ? 'pending' : 'none',
  t.expiresAt,
  t.deadlineAt,
  t.maxAttempts,
  t.now,
]

export async function getTask(db: Db, id: string): Promise<Task | null> {
  const rows = await db.query<Row>('select * from aiprocessingtask where id = $1', [id])
  return rows[0] ? toTask(rows[0]) : null
}

export async function getTaskByRequestId(db: Db, requestId: string): Promise<Task | null> {
  const rows = await db.query<Row>('select * from aiprocessingtask where request_id = $1', [requestId])
  return rows[0] ? toTask(rows[0]) : null
}

/** The task an earlier delivery of the same request created: same X-Request-Id, or the same callbackUrl. */
export async function findDuplicate(
  db: Db,
  key: { requestId: string | null; callbackUrl: string | null },
): Promise<Task | null> {
  if (!key.requestId && !key.callbackUrl) return null
  // One lookup per unique index. Not `… OR … ORDER BY created_at LIMIT 1`: with nothing to find (every new
  // request) PostgreSQL may walk the whole created_at index looking for a match; that doubled its CPU per ack.
  const rows = await db.query<Row>(
    `select * from aiprocessingtask where request_id = $1
     union all
     select * from aiprocessingtask where callback_url = $2`,
    [key.requestId, key.callbackUrl],
  )
  const tasks = rows.map(toTask).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
  return tasks[0] ?? null
}

export interface NewAnyTask {
  kind: string
  input: unknown
  userId?: string | null
  convId?: string | null
  /** At most one task per key: a second enqueue with the same key returns null. */
  dedupeKey?: string | null
  runAfter?: Date
  /** EDF order: live callbacks have deadlines of seconds; background work should get a far one. */
  deadlineAt: Date
  maxAttempts: number
  now?: Date
}

/**
 * Enqueues a task of any kind (no Kakao callback). Returns null when `dedupeKey` is already taken, which is
 * how a periodic job's run is created once across every instance. Call `queue.wake()` afterwards.
 */
export async function enqueueTask<I = unknown>(db: Db, t: NewAnyTask): Promise<Task<I> | null> {
  const now = t.now ?? new Date()
  const rows = await db.query<Row>(
    `insert into aiprocessingtask
       (id, kind, dedupe_key, user_id, conv_id, input, callback_status, deadline_at, max_attempts, run_after,
        created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, 'none', $7, $8, $9, $10, $10)
     on conflict do nothing
     returning *`,
    [
      newId(),
      t.kind,
      t.dedupeKey ?? null,
      t.userId ?? null,
      t.convId ?? null,
      t.input,
      t.deadlineAt,
      t.maxAttempts,
      t.runAfter ?? now,
      now,
    ],
  )
  return rows[0] ? (toTask(rows[0]) as Task<I>) : null
}
