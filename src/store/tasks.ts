import type { Db } from './db.ts'
import { newId, toDate, toDateOrNull, toJson, toNumOrNull } from './rows.ts'

export type TaskStatus = 'pending' | 'processing' | 'completed' | 'failed'
export type CallbackStatus = 'none' | 'pending' | 'sent' | 'rejected' | 'expired' | 'inline'

export const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'processing', 'completed', 'failed']

/** A callbackUrl with less life left than this is not used any more (the POST could arrive too late). */
export const CALLBACK_MIN_LIFE_MS = 500

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

export interface Task {
  id: string
  userId: string
  convId: string | null
  messageId: string | null
  requestId: string | null
  status: TaskStatus
  input: TaskInput
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

type Row = Record<string, unknown>

export const toTask = (r: Row): Task => ({
  id: String(r.id),
  userId: String(r.user_id),
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
  input: TaskInput
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
  const rows = await db.query<Row>(
    `insert into aiprocessingtask
       (id, user_id, conv_id, message_id, request_id, input, callback_url, callback_status,
        expires_at, deadline_at, max_attempts, run_after, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12)
     on conflict do nothing
     returning *`,
    [
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
    ],
  )
  return rows[0] ? toTask(rows[0]) : null
}

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

/**
 * Atomically claims up to `limit` runnable tasks for `owner`: pending ones whose backoff has passed, and
 * processing ones whose lease ran out (their worker died). Each claim counts as one attempt.
 *
 * Order: tasks whose deadline is still ahead first, earliest deadline first (EDF), so that a live callback
 * is never starved by work that can only be served later; then overdue tasks, oldest first.
 * PostgreSQL skips rows other instances are claiming; SQLite runs it as one statement under its single writer.
 */
export async function claimTasks(
  db: Db,
  opts: { owner: string; limit: number; leaseMs: number; now?: Date },
): Promise<Task[]> {
  const now = opts.now ?? new Date()
  const lockClause = db.dialect === 'postgres' ? 'for update skip locked' : ''
  // A materialized CTE runs the locking subquery exactly once; under `IN (…)` PostgreSQL may plan it as the
  // inner side of a nested loop and re-run it.
  const rows = await db.query<Row>(
    `with next as materialized (
       select id from aiprocessingtask
        where (status = 'pending' and run_after <= $3) or (status = 'processing' and lease_until < $3)
        order by (deadline_at < $3), deadline_at
        limit $4
        ${lockClause})
     update aiprocessingtask
        set status = 'processing', lease_owner = $1, lease_until = $2, attempts = attempts + 1,
            started_at = coalesce(started_at, $3), updated_at = $3
      where id in (select id from next)
      returning *`,
    [opts.owner, new Date(now.getTime() + opts.leaseMs), now, opts.limit],
  )
  return rows.map(toTask).sort((a, b) => a.deadlineAt.getTime() - b.deadlineAt.getTime())
}

/** Extends a lease; false means the lease was lost (another worker reclaimed the task). */
export async function renewLease(
  db: Db,
  id: string,
  owner: string,
  leaseMs: number,
  now = new Date(),
): Promise<boolean> {
  const rows = await db.query(
    `update aiprocessingtask set lease_until = $3, updated_at = $4
      where id = $1 and lease_owner = $2 and status = 'processing' returning id`,
    [id, owner, new Date(now.getTime() + leaseMs), now],
  )
  return rows.length === 1
}

/** Puts a task back to pending after a retryable failure. Fenced by the lease owner. */
export async function rescheduleTask(
  db: Db,
  id: string,
  owner: string,
  runAfter: Date,
  error: string,
  now = new Date(),
): Promise<boolean> {
  const rows = await db.query(
    `update aiprocessingtask
        set status = 'pending', lease_owner = null, lease_until = null, run_after = $3, error = $4, updated_at = $5
      where id = $1 and lease_owner = $2 and status = 'processing' returning id`,
    [id, owner, runAfter, error, now],
  )
  return rows.length === 1
}

export async function failTask(
  db: Db,
  id: string,
  owner: string,
  error: string,
  now = new Date(),
): Promise<Task | null> {
  const rows = await db.query<Row>(
    `update aiprocessingtask
        set status = 'failed', lease_owner = null, lease_until = null, error = $3, completed_at = $4, updated_at = $4
      where id = $1 and lease_owner = $2 and status = 'processing' returning *`,
    [id, owner, error, now],
  )
  return rows[0] ? toTask(rows[0]) : null
}

export interface Completion {
  id: string
  owner: string
  aiResponse: string
  responseMessageId: string | null
  tokensUsed: number | null
  now?: Date
}

/** Records the answer; null when the lease was lost (a late worker never overwrites a reclaimed task). */
export async function completeTask(db: Db, c: Completion): Promise<Task | null> {
  const now = c.now ?? new Date()
  const rows = await db.query<Row>(
    `update aiprocessingtask
        set status = 'completed', lease_owner = null, lease_until = null, ai_response = $3,
            response_message_id = $4, tokens_used = $5, error = null, completed_at = $6, updated_at = $6
      where id = $1 and lease_owner = $2 and status = 'processing' returning *`,
    [c.id, c.owner, c.aiResponse, c.responseMessageId, c.tokensUsed, now],
  )
  return rows[0] ? toTask(rows[0]) : null
}

/** Graceful shutdown: the owner's unfinished tasks go back to pending; the interrupted attempt is not counted. */
export async function releaseTasks(db: Db, owner: string, now = new Date()): Promise<number> {
  const rows = await db.query(
    `update aiprocessingtask
        set status = 'pending', lease_owner = null, lease_until = null, run_after = $2,
            attempts = case when attempts > 0 then attempts - 1 else 0 end, updated_at = $2
      where lease_owner = $1 and status = 'processing' returning id`,
    [owner, now],
  )
  return rows.length
}

// --- delivery --------------------------------------------------------------------------------

/**
 * Takes the single use of a task's callbackUrl. Whoever gets the row back is the only one allowed to POST;
 * the status is written before the request so that a crash can never lead to a second POST.
 */
export async function claimCallback(db: Db, id: string, now = new Date()): Promise<Task | null> {
  // Not in the URL's last half second: a POST that cannot arrive in time is never started.
  const rows = await db.query<Row>(
    `update aiprocessingtask set callback_status = 'sent', callback_sent_at = $2, updated_at = $2
      where id = $1 and callback_status = 'pending' and (expires_at is null or expires_at > $3) returning *`,
    [id, now, new Date(now.getTime() + CALLBACK_MIN_LIFE_MS)],
  )
  return rows[0] ? toTask(rows[0]) : null
}

export async function recordCallbackOutcome(
  db: Db,
  id: string,
  outcome: {
    status: 'sent' | 'rejected'
    error: string | null
    deliveredAnswer: boolean
    remainingText?: string | null
  },
  now = new Date(),
): Promise<void> {
  await db.query(
    `update aiprocessingtask
        set callback_status = $2, callback_error = $3,
            delivered_at = case when $4 then $5 else delivered_at end,
            remaining_text = case when $4 then $6 else remaining_text end,
            updated_at = $5
      where id = $1`,
    [id, outcome.status, outcome.error, outcome.deliveredAnswer, now, outcome.remainingText ?? null],
  )
}

/** A finished task's callback is normally sent by its worker at once; after this, the guard sends it. */
const FINISHED_GRACE_MS = 3000

/**
 * Callbacks that must go out now: their deadline has come; they are still queued with too little time left
 * for a model attempt (admission under overload: the user gets a short apology instead of silence); or the
 * task finished but its worker died (or the database blinked) before it could send the callback.
 */
export async function dueCallbacks(db: Db, now: Date, minAttemptMs: number, limit = 100): Promise<Task[]> {
  const rows = await db.query<Row>(
    `select * from aiprocessingtask
      where callback_status = 'pending'
        and (deadline_at <= $1
             or (status = 'pending' and deadline_at <= $2)
             or (status in ('completed', 'failed') and completed_at <= $3))
      order by deadline_at
      limit $4`,
    [now, new Date(now.getTime() + minAttemptMs), new Date(now.getTime() - FINISHED_GRACE_MS), limit],
  )
  return rows.map(toTask)
}

/** Marks callbacks that can no longer be used (every instance was down past the URL's lifetime). */
export async function expireCallbacks(db: Db, now = new Date()): Promise<Task[]> {
  const rows = await db.query<Row>(
    `update aiprocessingtask set callback_status = 'expired', updated_at = $1
      where callback_status = 'pending' and expires_at <= $1 returning *`,
    [now],
  )
  return rows.map(toTask)
}

/** The inline path answered in the HTTP response: true when this call delivered it (nobody else did). */
export async function markInline(
  db: Db,
  id: string,
  remainingText: string | null,
  now = new Date(),
): Promise<boolean> {
  const rows = await db.query(
    `update aiprocessingtask set callback_status = 'inline', delivered_at = $2, remaining_text = $3, updated_at = $2
      where id = $1 and status = 'completed' and delivered_at is null and callback_status = 'none' returning id`,
    [id, now, remainingText],
  )
  return rows.length === 1
}

/** A held answer was shown by late-answer. */
export async function markDelivered(
  db: Db,
  id: string,
  remainingText: string | null,
  now = new Date(),
): Promise<boolean> {
  const rows = await db.query(
    `update aiprocessingtask set delivered_at = $2, remaining_text = $3, updated_at = $2
      where id = $1 and delivered_at is null returning id`,
    [id, now, remainingText],
  )
  return rows.length === 1
}

export async function setRemainingText(
  db: Db,
  id: string,
  text: string | null,
  now = new Date(),
): Promise<void> {
  await db.query('update aiprocessingtask set remaining_text = $2, updated_at = $3 where id = $1', [
    id,
    text,
    now,
  ])
}

/**
 * The user's newest task (since `since`) whose answer has not reached them and will not come through a
 * callback any more.
 */
export async function latestUndelivered(db: Db, userId: string, since: Date): Promise<Task | null> {
  const rows = await db.query<Row>(
    `select * from aiprocessingtask
      where user_id = $1 and delivered_at is null and created_at >= $2
        and callback_status not in ('inline', 'pending')
      order by created_at desc limit 1`,
    [userId, since],
  )
  return rows[0] ? toTask(rows[0]) : null
}

/** The user's newest delivered task that still has text left for "자세히". */
export async function latestWithRemaining(db: Db, userId: string, since: Date): Promise<Task | null> {
  const rows = await db.query<Row>(
    `select * from aiprocessingtask
      where user_id = $1 and remaining_text is not null and delivered_at is not null and created_at >= $2
      order by created_at desc limit 1`,
    [userId, since],
  )
  return rows[0] ? toTask(rows[0]) : null
}

// --- operations --------------------------------------------------------------------------------

export async function listTasks(
  db: Db,
  opts: { status?: TaskStatus; limit?: number; offset?: number } = {},
): Promise<Task[]> {
  const params: unknown[] = [opts.limit ?? 50, opts.offset ?? 0]
  const where = opts.status ? `where status = $${params.push(opts.status)}` : ''
  const rows = await db.query<Row>(
    `select * from aiprocessingtask ${where} order by created_at desc, id desc limit $1 offset $2`,
    params,
  )
  return rows.map(toTask)
}

/**
 * Admin/CLI retry: a failed task goes back to pending with fresh attempts. Its callback is reusable only when
 * it was never used and has not expired; otherwise the answer waits for the user's "답변 확인".
 */
export async function retryFailedTask(
  db: Db,
  id: string,
  opts: { deadlineAt: Date; now?: Date },
): Promise<Task | null> {
  const now = opts.now ?? new Date()
  const rows = await db.query<Row>(
    `update aiprocessingtask
        set status = 'pending', attempts = 0, run_after = $2, error = null, completed_at = null,
            delivered_at = null, remaining_text = null,
            lease_owner = null, lease_until = null, updated_at = $2,
            deadline_at = case when callback_status = 'pending' and expires_at > $2 then deadline_at else $3 end
      where id = $1 and status = 'failed' returning *`,
    [id, now, opts.deadlineAt],
  )
  return rows[0] ? toTask(rows[0]) : null
}

/** Retention: deletes finished tasks older than `before`, at most `batch` rows; returns how many went. */
export async function deleteFinishedTasks(db: Db, before: Date, batch: number): Promise<number> {
  const rows = await db.query(
    `delete from aiprocessingtask where id in (
       select id from aiprocessingtask
        where status in ('completed', 'failed') and completed_at < $1
          and (callback_status <> 'pending')
        limit $2)
     returning id`,
    [before, batch],
  )
  return rows.length
}
