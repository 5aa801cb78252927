import { touchConversationAt } from './conversations.ts'
import type { Db } from './db.ts'
import { insertMessage } from './messages.ts'
import { type Bucket, takeToken, takeTokenParams, takeTokenSql } from './ratelimit.ts'
import { answerTaskParams, insertTask, type NewTask, type Row, type Task, toTask } from './tasks.ts'

/** A Kakao turn's user message and its AI task, written together (ai-dispatch). */
export interface NewTurnTask extends NewTask {
  /** The user's message text (stored as the `user` message the task points at). */
  content: string
  /** Take a token from the user's bucket first; no token, nothing is written. */
  bucket: Bucket | null
  /** NOTIFY this channel with the commit (another instance should claim the task), or null. */
  notifyChannel: string | null
}

export interface TurnEnqueued {
  /** The new task; null for a duplicate (request id or callbackUrl already used) or a refused token. */
  task: Task | null
  /** The bucket was empty: nothing was written. */
  limited: boolean
}

/**
 * The ack's one write. On PostgreSQL ONE statement: take the rate-limit token, insert the task (nothing on a
 * duplicate request id or callbackUrl), the user message it points at, touch the conversation and NOTIFY the
 * other instances — all committed (and the NOTIFY sent) together before the ack leaves. The task's foreign key
 * to its message is checked at the end of the statement, so the order of the parts does not matter.
 * SQLite has no data-modifying CTEs; there it is one transaction in-process.
 */
export async function enqueueTurnTask(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  return db.dialect === 'postgres' ? enqueuePostgres(db, t) : enqueueSqlite(db, t)
}

async function enqueuePostgres(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  const rate = t.bucket ? `${takeTokenSql(15)} returning allowed` : 'select 1 as allowed'
  // Notifications are namespaced by schema, as the notifier does it (postgres.ts channelOf).
  const channel = `case when current_schema() = 'public' then $14::text else $14::text || '__' || current_schema() end`
  const rows = await db.query<Row>(
    `with rl as (${rate}),
     t as (
       insert into aiprocessingtask
         (id, user_id, conv_id, message_id, request_id, input, callback_url, callback_status,
          expires_at, deadline_at, max_attempts, run_after, created_at, updated_at)
       select $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::text, $6::jsonb, $7::text, $8::text,
              $9::timestamptz, $10::timestamptz, $11::integer, $12::timestamptz, $12::timestamptz, $12::timestamptz
        where exists (select 1 from rl where allowed = 1)
       on conflict do nothing
       returning *
     ),
     m as (
       insert into message (id, conv_id, role, content, created_at)
       select $4::uuid, $3::uuid, 'user', $13::text, $12::timestamptz from t
     ),
     c as (
       update conversation
          set last_activity_at = case when last_activity_at < $12::timestamptz then $12::timestamptz
                                      else last_activity_at end
        where id = $3::uuid and exists (select 1 from t)
     ),
     n as (select pg_notify(${channel}, '') from t where $14::text is not null)
     select (select allowed from rl) as rl_allowed, (select count(*) from n) as rl_notified, t.*
       from (select 1) as one left join t on true`,
    [
      ...answerTaskParams(t),
      t.content,
      t.notifyChannel,
      ...(t.bucket ? takeTokenParams(t.userId, t.bucket, t.now.getTime()) : []),
    ],
  )
  const row = rows[0]!
  if (Number(row.rl_allowed) !== 1) return { task: null, limited: true }
  return { task: row.id ? toTask(row) : null, limited: false }
}

class Duplicate extends Error {}

async function enqueueSqlite(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  return db
    .tx(async (tx) => {
      if (t.bucket && !(await takeToken(tx, t.userId, t.bucket, t.now.getTime())))
        return { task: null, limited: true }
      await insertMessage(tx, {
        id: t.messageId,
        convId: t.convId,
        role: 'user',
        content: t.content,
        createdAt: t.now,
      })
      const task = await insertTask(tx, t)
      // A duplicate: roll the message back too (and the token: a repeated delivery costs the user nothing).
      if (!task) throw new Duplicate()
      await touchConversationAt(tx, t.convId, t.now)
      return { task, limited: false }
    })
    .catch((err) => {
      if (err instanceof Duplicate) return { task: null, limited: false }
      throw err
    })
}
