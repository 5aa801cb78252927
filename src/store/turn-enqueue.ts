import { AppError } from '../errors.ts'
import { Grouper } from '../util/group.ts'
import { touchConversationAt } from './conversations.ts'
import type { Db } from './db.ts'
import { insertMessage } from './messages.ts'
import { type Bucket, takeToken, takeTokenSql } from './ratelimit.ts'
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
  /** The task's commit carried the NOTIFY of `notifyChannel`. */
  notified: boolean
}

/**
 * The ack's one write: on PostgreSQL one statement, shared with the acks that came meanwhile (enqueueGroup);
 * SQLite has no data-modifying CTEs, there it is one transaction in-process (which the adapter group-commits).
 */
export async function enqueueTurnTask(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  return db.dialect === 'postgres' ? enqueuePostgres(db, t) : enqueueSqlite(db, t)
}

/**
 * Acks that come while the database is busy with earlier ones go together: one statement, one commit, one
 * NOTIFY for the group (util/group.ts). A group holds at most one turn per user (one token each; the user's next
 * turn waits for the next group) and turns with the same rate limit and channel; each keeps its own outcome.
 * One statement out at a time measured best (README, "The floor phase"); one held up for 50 ms (a lock another
 * transaction holds) lets the next group go beside it, up to four.
 */
const GROUP = { inFlight: 1, max: 64, stallMs: 50, maxRunning: 4 }

interface Grouped {
  t: NewTurnTask
  params: unknown[]
}

const groupers = new WeakMap<Db, Grouper<Grouped, TurnEnqueued>>()

function grouperOf(db: Db): Grouper<Grouped, TurnEnqueued> {
  let g = groupers.get(db)
  if (!g) {
    g = new Grouper<Grouped, TurnEnqueued>({
      ...GROUP,
      run: (items) => enqueueGroup(db, items),
      fits: (item, group) => group.every((o) => o.t.userId !== item.t.userId && sameSettings(o.t, item.t)),
      // A bad row (a conversation deleted under it) fails only its own turn; a database down fails them all.
      split: (err) => !(err instanceof AppError && err.code === 'DB_UNAVAILABLE'),
    })
    groupers.set(db, g)
  }
  return g
}

const sameSettings = (a: NewTurnTask, b: NewTurnTask) =>
  a.notifyChannel === b.notifyChannel &&
  a.bucket?.burst === b.bucket?.burst &&
  a.bucket?.perMinute === b.bucket?.perMinute

async function enqueuePostgres(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  return grouperOf(db).submit({ t, params: answerTaskParams(t) })
}

/**
 * `exists (q)` for a lookup by index, one per row of the group. The planner, which expects a hundred rows from
 * the JSON, would hash a plain EXISTS over the whole table instead (a scan of every task on every ack); a
 * scalar subquery is never hashed.
 */
const some = (q: string) => `coalesce((${q} limit 1), false)`

/**
 * The group's one statement. Each turn is a row of `$1` (JSON): check its remembered state (`expect`) and that
 * its request id and callbackUrl are new — if either fails nothing below happens for it —, take its user's
 * rate-limit token, insert its task (nothing on a duplicate that raced past the check) and the user message the
 * task points at, touch its conversation; then NOTIFY the other instances once — all committed (and the NOTIFY
 * sent) together before any of the acks leaves. The task's foreign key to its message is checked at the end
 * of the statement, so the order of the writes does not matter.
 */
async function enqueueGroup(db: Db, items: readonly Grouped[]): Promise<TurnEnqueued[]> {
  const { bucket, notifyChannel } = items[0]!.t
  const rows = items.map(({ t, params: p }, i) => ({
    i,
    id: p[0],
    user_id: t.userId,
    conv_id: t.convId,
    message_id: t.messageId,
    request_id: t.requestId,
    input: t.input,
    callback_url: t.callbackUrl,
    callback_status: p[7],
    expires_at: t.expiresAt,
    deadline_at: t.deadlineAt,
    max_attempts: t.maxAttempts,
    at: t.now,
    now_ms: t.now.getTime(),
    content: t.content,
    e_updated: t.expect?.userUpdatedAt ?? null,
    e_cutoff: t.expect?.cutoff ?? null,
    e_flagged: t.expect?.flagged ?? null,
  }))
  const go = 'k.ok and not k.dup'
  const take = takeTokenSql(
    { user: 'k.user_id', burst: '$3', now: 'k.now_ms', rate: '$4' },
    `from k where ${go} and $3::double precision is not null`,
  )
  // Notifications are namespaced by schema, as the notifier does it (postgres.ts channelOf). The final select
  // reads `n` only so that it runs: PostgreSQL skips a plain CTE nobody reads.
  const channel = `case when current_schema() = 'public' then $2::text else $2::text || '__' || current_schema() end`
  const out = await db.query<Row>(
    `with x as (
       select * from jsonb_to_recordset($1::jsonb) as x(
         i integer, id uuid, user_id uuid, conv_id uuid, message_id uuid, request_id text, input jsonb,
         callback_url text, callback_status text, expires_at timestamptz, deadline_at timestamptz,
         max_attempts integer, at timestamptz, now_ms bigint, content text,
         e_updated timestamptz, e_cutoff timestamptz, e_flagged boolean)
     ),
     k as (
       select x.*,
         (x.e_updated is null or (
           ${some(`select true from appuser u
                    where u.id = x.user_id and date_trunc('milliseconds', u.updated_at) = x.e_updated`)}
           and ${some(`select true from conversation c
                        where c.id = x.conv_id and c.user_id = x.user_id and c.ended_at is null
                          and c.last_activity_at > x.e_cutoff
                          and (c.flagged_at is not null) = x.e_flagged
                          and not ${some(`select true from conversation o
                                           where o.user_id = x.user_id and o.ended_at is null
                                             and o.last_activity_at > x.e_cutoff
                                             and o.started_at > c.started_at`)}`)})) as ok,
         ${some('select true from aiprocessingtask a where a.request_id = x.request_id')}
           or ${some('select true from aiprocessingtask a where a.callback_url = x.callback_url')} as dup
       from x
     ),
     rl as (${take} returning user_id, allowed),
     t as (
       insert into aiprocessingtask
         (id, user_id, conv_id, message_id, request_id, input, callback_url, callback_status,
          expires_at, deadline_at, max_attempts, run_after, created_at, updated_at)
       select k.id, k.user_id, k.conv_id, k.message_id, k.request_id, k.input, k.callback_url, k.callback_status,
              k.expires_at, k.deadline_at, k.max_attempts, k.at, k.at, k.at
         from k
        where ${go} and ($3::double precision is null
                         or exists (select 1 from rl where rl.user_id = k.user_id::text and rl.allowed = 1))
       on conflict do nothing
       returning id
     ),
     m as (
       insert into message (id, conv_id, role, content, created_at)
       select k.message_id, k.conv_id, 'user', k.content, k.at from k join t on t.id = k.id
     ),
     c as (
       update conversation v
          set last_activity_at = greatest(v.last_activity_at, (select k.at from k where k.conv_id = v.id))
        where v.id = any(array(select k.conv_id from k join t on t.id = k.id))
     ),
     n as (select pg_notify(${channel}, '') where $2::text is not null and exists (select 1 from t))
     select k.i, k.ok, k.dup, rl.allowed, t.id is not null as inserted, (select count(*) from n) as notified
       from k left join rl on rl.user_id = k.user_id::text left join t on t.id = k.id`,
    [rows, notifyChannel, bucket?.burst ?? null, bucket ? bucket.perMinute / 60_000 : null],
    { lane: 'ack' },
  )
  const results: TurnEnqueued[] = []
  for (const r of out) {
    const item = items[Number(r.i)]!
    results[Number(r.i)] = !r.ok
      ? { ...nothing, stale: true }
      : // A duplicate took no token: the caller finds the earlier task (findDuplicate).
        r.dup
        ? nothing
        : bucket && Number(r.allowed) !== 1
          ? { ...nothing, limited: true }
          : r.inserted
            ? { ...nothing, task: insertedTask(item.params), notified: Number(r.notified) > 0 }
            : nothing
  }
  return results
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

const nothing: TurnEnqueued = { task: null, limited: false, stale: false, notified: false }

class Duplicate extends Error {}

async function enqueueSqlite(db: Db, t: NewTurnTask): Promise<TurnEnqueued> {
  return db
    .tx(async (tx): Promise<TurnEnqueued> => {
      if (t.expect && !(await expectationHolds(tx, t, t.expect))) return { ...nothing, stale: true }
      if (t.bucket && !(await takeToken(tx, t.userId, t.bucket, t.now.getTime())))
        return { ...nothing, limited: true }
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
      return { ...nothing, task }
    })
    .catch((err): TurnEnqueued => {
      if (err instanceof Duplicate) return nothing
      throw err
    })
}
