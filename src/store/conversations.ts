import type { Db } from './db.ts'
import { logEvent } from './events.ts'
import { newId, toDate, toDateOrNull } from './rows.ts'

export interface Conversation {
  id: string
  userId: string
  startedAt: Date
  lastActivityAt: Date
  endedAt: Date | null
}

type Row = Record<string, unknown>

const toConversation = (r: Row): Conversation => ({
  id: String(r.id),
  userId: String(r.user_id),
  startedAt: toDate(r.started_at),
  lastActivityAt: toDate(r.last_activity_at),
  endedAt: toDateOrNull(r.ended_at),
})

/**
 * The user's open conversation, or a new one when there is none or it has been idle longer than the session
 * timeout (the idle one is ended at its last activity).
 */
export async function currentConversation(
  db: Db,
  userId: string,
  timeoutMinutes: number,
  now = new Date(),
): Promise<{ conversation: Conversation; isNew: boolean }> {
  const rows = await db.query<Row>(
    'select * from conversation where user_id = $1 and ended_at is null order by started_at desc limit 1',
    [userId],
  )
  const open = rows[0] ? toConversation(rows[0]) : null
  if (open && now.getTime() - open.lastActivityAt.getTime() < timeoutMinutes * 60_000) {
    return { conversation: open, isNew: false }
  }
  return db.tx(async (tx) => {
    if (open) {
      await tx.query(
        'update conversation set ended_at = last_activity_at where id = $1 and ended_at is null',
        [open.id],
      )
    }
    const id = newId()
    const created = await tx.query<Row>(
      'insert into conversation (id, user_id, started_at, last_activity_at) values ($1, $2, $3, $3) returning *',
      [id, userId, now],
    )
    await logEvent(tx, 'conversation_started', userId, { conversation_id: id, previous: open?.id ?? null })
    return { conversation: toConversation(created[0]!), isNew: true }
  })
}

export async function touchConversation(db: Db, id: string, now = new Date()): Promise<void> {
  await db.query('update conversation set last_activity_at = $2 where id = $1', [id, now])
}

export async function getConversation(db: Db, id: string): Promise<Conversation | null> {
  const rows = await db.query<Row>('select * from conversation where id = $1', [id])
  return rows[0] ? toConversation(rows[0]) : null
}
