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
