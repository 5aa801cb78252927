import type { Db } from './db.ts'
import { type Row, type Task, toTask } from './tasks.ts'

// A task's Kakao callback and what reached the user (inline, callback, "답변 확인", "자세히").

/** A callbackUrl with less life left than this is not used any more (the POST could arrive too late). */
export const CALLBACK_MIN_LIFE_MS = 500
/**
 * Takes the single use of a task's callbackUrl. Whoever gets the row back is the only one allowed to POST;
 * the status is written before the request so that a crash can never lead to a second POST.
 *
 * `answer`: the caller already holds the task completed with this answer (a completed task's answer never
 * changes) and what of it will not fit the callback: the same update counts the answer as delivered and keeps
 * its rest for "자세히", when the row is still that answer — one statement and one commit before the POST
 * instead of two. The caller compares the returned row's `aiResponse` to know whether it was.
 */
export async function claimCallback(
  db: Db,
  id: string,
  now = new Date(),
  answer?: { text: string; remainingText: string | null },
): Promise<Task | null> {
  // Not in the URL's last half second: a POST that cannot arrive in time is never started.
  const delivered = `status = 'completed' and ai_response = $4`
  const rows = await db.query<Row>(
    `update aiprocessingtask set callback_status = 'sent', callback_sent_at = $2, updated_at = $2,
            delivered_at = case when ${delivered} then $2 else delivered_at end,
            remaining_text = case when ${delivered} then $5 else remaining_text end
      where id = $1 and callback_status = 'pending' and (expires_at is null or expires_at > $3) returning *`,
    [
      id,
      now,
      new Date(now.getTime() + CALLBACK_MIN_LIFE_MS),
      answer?.text ?? null,
      answer?.remainingText ?? null,
    ],
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
    /** The answer was marked delivered before the POST, and the POST failed: it waits for "답변 확인" again. */
    revokeAnswer?: boolean
  },
  now = new Date(),
): Promise<void> {
  await db.query(
    `update aiprocessingtask
        set callback_status = $2, callback_error = $3,
            delivered_at = case when $4 then $5 when $7 then null else delivered_at end,
            remaining_text = case when $4 then $6 when $7 then null else remaining_text end,
            updated_at = $5
      where id = $1`,
    [
      id,
      outcome.status,
      outcome.error,
      outcome.deliveredAnswer,
      now,
      outcome.remainingText ?? null,
      outcome.revokeAnswer ?? false,
    ],
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
  // Two index-bounded reads, never one pass over every queued callback (the guard runs twice a second on every
  // instance, and under a burst thousands are queued): the callbacks whose deadline is within the attempt
  // margin (aiprocessingtask_callback, by deadline), and the finished tasks whose callback is still pending
  // and whose deadline is further off (aiprocessingtask_finished_callback, normally empty; oldest answer first).
  // `not (deadline_at <= $2)` rather than `deadline_at > $2`: SQLite would otherwise walk the callback index.
  const rows = await db.query<Row>(
    `select * from (
       select * from (select * from aiprocessingtask
         where callback_status = 'pending' and deadline_at <= $2
           and (deadline_at <= $1 or status = 'pending'
                or (status in ('completed', 'failed') and completed_at <= $3))
         order by deadline_at limit $4) near
       union all
       select * from (select * from aiprocessingtask
         where callback_status = 'pending' and status in ('completed', 'failed') and completed_at <= $3
           and not (deadline_at <= $2)
         order by completed_at limit $4) finished
     ) due
     order by deadline_at
     limit $4`,
    [now, new Date(now.getTime() + minAttemptMs), new Date(now.getTime() - FINISHED_GRACE_MS), limit],
  )
  return rows.map(toTask)
}

/**
 * Marks callbacks that can no longer be used (every instance was down past the URL's lifetime). A pending
 * callback's deadline is never after its expiry (ai-dispatch sets it before; an admin retry expires a callback
 * it cannot keep), so only the callbacks past their deadline are looked at, through aiprocessingtask_callback.
 */
export async function expireCallbacks(db: Db, now = new Date()): Promise<Task[]> {
  const rows = await db.query<Row>(
    `update aiprocessingtask set callback_status = 'expired', updated_at = $1
      where callback_status = 'pending' and deadline_at <= $1 and expires_at <= $1 returning *`,
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
