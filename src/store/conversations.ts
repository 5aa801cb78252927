import type { Db } from './db.ts'
import { logEvent } from './events.ts'
import { newId, toDate, toDateOrNull } from './rows.ts'

export interface Conversation {
  id: string
  userId: string
  startedAt: Date
  lastActivityAt: Date
  endedAt: Date | null
  /** Crisis kinds found in this conversation (crisis-guard); [] when never flagged. */
  crisisKinds: string[]
  flaggedAt: Date | null
}

type Row = Record<string, unknown>

export const toConversation = (r: Row): Conversation => ({
  id: String(r.id),
  userId: String(r.user_id),
  startedAt: toDate(r.started_at),
  lastActivityAt: toDate(r.last_activity_at),
  endedAt: toDateOrNull(r.ended_at),
  crisisKinds: r.crisis_kinds ? String(r.crisis_kinds).split(',') : [],
  flaggedAt: toDateOrNull(r.flagged_at),
})

/**
 * The user's open conversation, touched (one statement for the lookup and the activity update), or a new one
 * when there is none or it has been idle longer than the session timeout (the idle one is ended at its last
 * activity).
 */
export async function currentConversation(
  db: Db,
  userId: string,
  timeoutMinutes: number,
  now = new Date(),
): Promise<{ conversation: Conversation; isNew: boolean }> {
  const cutoff = new Date(now.getTime() - timeoutMinutes * 60_000)
  const touched = await db.query<Row>(
    // Never moves activity backwards: a concurrent turn or the worker may have touched it a moment later.
    `update conversation set last_activity_at = case when last_activity_at < $3 then $3 else last_activity_at end
      where user_id = $1 and ended_at is null and last_activity_at > $2
      returning *`,
    [userId, cutoff, now],
  )
  if (touched.length > 0) {
    const newest = touched
      .map(toConversation)
      .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())[0]!
    return { conversation: newest, isNew: false }
  }
  return db.tx(async (tx) => {
    const ended = await tx.query<Row>(
      'update conversation set ended_at = last_activity_at where user_id = $1 and ended_at is null returning id',
      [userId],
    )
    const previous = ended[0] ? String(ended[0].id) : null
    return { conversation: await openConversation(tx, userId, now, previous), isNew: true }
  })
}

/**
 * Inserts a conversation and logs `conversation_started` (`previous`: the one it follows, ended by the caller,
 * or null for a user's first). Two statements: call it inside a transaction. On PostgreSQL the turn opens a new
 * user's first conversation in the statement that creates the user (`firstConversationCtes`).
 */
export async function openConversation(
  tx: Db,
  userId: string,
  now: Date,
  previous: string | null,
): Promise<Conversation> {
  const id = newId()
  const created = await tx.query<Row>(
    'insert into conversation (id, user_id, started_at, last_activity_at) values ($1, $2, $3, $3) returning *',
    [id, userId, now],
  )
  await logEvent(tx, 'conversation_started', userId, { conversation_id: id, previous })
  return toConversation(created[0]!)
}

/**
 * PostgreSQL CTEs: `c`, a first conversation inserted for each row of `from` (a FROM clause; `userId` and the
 * others are SQL expressions over it or parameters), and `ce`, its `conversation_started` event.
 */
export function firstConversationCtes(p: {
  id: string
  userId: string
  at: string
  eventId: string
  from: string
}): string {
  return `c as (insert into conversation (id, user_id, started_at, last_activity_at)
               select ${p.id}::uuid, ${p.userId}, ${p.at}::timestamptz, ${p.at}::timestamptz ${p.from}
               returning *),
       ce as (insert into eventlog (id, user_id, type, detail)
              select ${p.eventId}::uuid, c.user_id, 'conversation_started',
                     jsonb_build_object('conversation_id', c.id, 'previous', null) from c)`
}

export async function touchConversation(db: Db, id: string, now = new Date()): Promise<void> {
  await db.query('update conversation set last_activity_at = $2 where id = $1', [id, now])
}

/** Marks activity at `now` without moving it backwards (a concurrent turn or the worker may be later). */
export async function touchConversationAt(db: Db, id: string, now: Date): Promise<void> {
  await db.query(
    `update conversation set last_activity_at = case when last_activity_at < $2 then $2 else last_activity_at end
      where id = $1`,
    [id, now],
  )
}
