import type { Db } from './db.ts'
import { toDate } from './rows.ts'

export interface UserSummary {
  userId: string
  summary: string
  lastMessageId: string | null
  updatedAt: Date
}

export async function getSummary(db: Db, userId: string): Promise<UserSummary | null> {
  const rows = await db.query<Record<string, unknown>>('select * from usersummary where user_id = $1', [
    userId,
  ])
  const r = rows[0]
  if (!r) return null
  return {
    userId: String(r.user_id),
    summary: String(r.summary),
    lastMessageId: (r.last_message_id as string | null) ?? null,
    updatedAt: toDate(r.updated_at),
  }
}

export async function saveSummary(
  db: Db,
  userId: string,
  summary: string,
  lastMessageId: string | null,
): Promise<void> {
  await db.query(
    `insert into usersummary (user_id, summary, last_message_id, updated_at) values ($1, $2, $3, $4)
     on conflict (user_id) do update set summary = excluded.summary, last_message_id = excluded.last_message_id,
       updated_at = excluded.updated_at`,
    [userId, summary, lastMessageId, new Date()],
  )
}
