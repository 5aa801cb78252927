import { touchConversationAt } from './conversations.ts'
import type { Db } from './db.ts'
import { insertMessage } from './messages.ts'
import { type Bucket, takeToken, takeTokenParams, takeTokenSql } from './ratelimit.ts'
import { toDate } from './rows.ts'
import { answerTaskParams, insertedTask, insertTask, type NewTask, type Row, type Task } from './tasks.ts'

/** A Kakao turn's user message and its AI task, written together (ai-dispatch). */
export interface NewTurnTask extends NewTask {
  /** The user's message text (stored as the `user` message the task points at). */
  content: string
  /** Take a token from the user's bucket first; no token, nothing is written. */
  bucket: Bucket | null
  /** NOTIFY this channel with the commit (another instance should claim the task), or null. */
  notifyChannel: string | null
  /**
   * The state the turn was decided on when it came from the instance's context cache (kakao/context-cache.ts),
   * or null when it was read in this request. Nothing is written unless it still holds; `stale` says so.
   */
  expect: TurnExpectation | null
}

/** What a turn served from the context cache assumed about its user and conversation. */
export interface TurnExpectation {
  /** The user row is unchanged since (name, name state, forget request: every change sets updated_at). */
  userUpdatedAt: Date
  /** The conversation is still the user's open one, active after this instant (the session cutoff). */
  cutoff: Date
  /** Whether the conversation was flagged by crisis-guard (it chooses the safety prompt). */
  flagged: boolean
}

export interface TurnEnqueued {
  /** The new task; null for a duplicate (request id or callbackUrl already used) or a refused token. */
  task: Task | null
  /** The bucket was empty: nothing was written. */
  limited: boolean
  /** `expect` no longer held: nothing was written (no token taken); the turn must be decided again. */
  stale: boolean
}

/**
 * The ack's one write. On PostgreSQL ONE statement: check the remembered state (`expect`) and that the request
 * id and callbackUrl are new — if either fails nothing below happens —, take the rate-limit token, insert the
 * task (nothing on a duplicate that raced past the check), the user message it points at, touch the
 * conversation and NOTIFY the other instances — all committed (and the NOTIFY sent) together before the ack
 * leaves. The task's foreign key to its message is checked at the end of the statement, so the order of the
 * writes does not matter. SQLite has no data-modifying CTEs; there it is one transaction in-process.
 */
export async function enqueueTurnTask(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  return db.dialect === 'postgres' ? enqueuePostgres(db, t) : enqueueSqlite(db, t)
}

/** The `expect` check as one SQL condition, its three parameters numbered from `first`. */
function expectationSql(first: number): string {
  const [updated, cutoff, flagged] = [first, first + 1, first + 2].map((n) => `$${n}`)
  return `exists (select 1 from appuser u
                   where u.id = $2::uuid and date_trunc('milliseconds', u.updated_at) = ${updated}::timestamptz)
      and exists (select 1 from conversation c
                   where c.id = $3::uuid and c.user_id = $2::uuid and c.ended_at is null
                     and c.last_activity_at > ${cutoff}::timestamptz
                     and (c.flagged_at is not null) = ${flagged}::boolean
                     and not exists (select 1 from conversation o
                                      where o.user_id = $2::uuid and o.ended_at is null
                                        and o.last_activity_at > ${cutoff}::timestamptz
                                        and o.started_at > c.started_at))`
}

async function enqueuePostgres(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  const params = [...answerTaskParams(t), t.content, t.notifyChannel]
  const go = '(select ok from ok) and not (select dup from d)'
  let rate = 'select 1 as allowed'
  if (t.bucket) {
    rate = `${takeTokenSql(params.length + 1, go)} returning allowed`
    params.push(...takeTokenParams(t.userId, t.bucket, t.now.getTime()))
  }
  let valid = 'true'
  if (t.expect) {
    valid = expectationSql(params.length + 1)
    params.push(t.expect.userUpdatedAt, t.expect.cutoff, t.expect.flagged)
  }
  // Notifications are namespaced by schema, as the notifier does it (postgres.ts channelOf).
  const channel = `case when current_schema() = 'public' then $14::text else $14::text || '__' || current_schema() end`
  const rows = await db.query<Row>(
    `with ok as (select ${valid} as ok),
     d as (
       select exists (select 1 from aiprocessingtask where request_id = $5::text)
           or exists (select 1 from aiprocessingtask where callback_url = $7::text) as dup
     ),
     rl as (${rate}),
     t as (
       insert into aiprocessingtask
         (id, user_id, conv_id, message_id, request_id, input, callback_url, callback_status,
          expires_at, deadline_at, max_attempts, run_after, created_at, updated_at)
       select $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::text, $6::jsonb, $7::text, $8::text,
              $9::timestamptz, $10::timestamptz, $11::integer, $12::timestamptz, $12::timestamptz, $12::timestamptz
        where ${go} and exists (select 1 from rl where allowed = 1)
       on conflict do nothing
       returning id
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
     select (select ok from ok) as ctx_ok, (select dup from d) as dup, (select allowed from rl) as rl_allowed,
            (select count(*) from n) as rl_notified, t.id
       from (select 1) as one left join t on true`,
    params,
  )
  const row = rows[0]!
  if (!row.ctx_ok) return { task: null, limited: false, stale: true }
  // A duplicate took no token: the caller finds the earlier task (findDuplicate).
  if (row.dup) return { task: null, limited: false, stale: false }
  if (Number(row.rl_allowed) !== 1) return { task: null, limited: true, stale: false }
  return { task: row.id ? insertedTask(params) : null, limited: false, stale: false }
}

/** The `expect` check on SQLite, inside the enqueue transaction (the same conditions as expectationSql). */
async function expectationHolds(tx: Db, t: NewTurnTask, expect: TurnExpectation): Promise<boolean> {
  const rows = await tx.query<Row>(
    `select u.updated_at as u_updated, c.user_id as c_user, c.ended_at as c_ended,
            c.last_activity_at as c_activity, c.flagged_at as c_flagged,
            (select count(*) from conversation o
              where o.user_id = u.id and o.ended_at is null and o.last_activity_at > $3
                and o.started_at > c.started_at) as newer
       from appuser u left join conversation c on c.id = $2
      where u.id = $1`,
    [t.userId, t.convId, expect.cutoff],
  )
  const r = rows[0]
  return (
    r !== undefined &&
    toDate(r.u_updated).getTime() === expect.userUpdatedAt.getTime() &&
    r.c_user === t.userId &&
    r.c_ended == null &&
    toDate(r.c_activity) > expect.cutoff &&
    (r.c_flagged != null) === expect.flagged &&
    Number(r.newer) === 0
  )
}

class Duplicate extends Error {}

async function enqueueSqlite(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  return db
    .tx(async (tx): Promise<TurnEnqueued> => {
      if (t.expect && !(await expectationHolds(tx, t, t.expect)))
        return { task: null, limited: false, stale: true }
      if (t.bucket && !(await takeToken(tx, t.userId, t.bucket, t.now.getTime())))
        return { task: null, limited: true, stale: false }
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
      return { task, limited: false, stale: false }
    })
    .catch((err): TurnEnqueued => {
      if (err instanceof Duplicate) return { task: null, limited: false, stale: false }
      throw err
    })
}
