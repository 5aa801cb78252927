import type { Db } from './db.ts'
import { newId } from './rows.ts'

/** Known event types; operators query eventlog by these. */
export type EventType =
  | 'user_created'
  | 'name_changed'
  | 'name_requested'
  | 'name_cancelled'
  | 'conversation_started'
  | 'task_failed'
  | 'task_retried'
  | 'callback_expired'
  | 'callback_rejected'
  | 'callback_refused'
  | 'late_answer_served'
  | 'summary_updated'
  | 'forget_requested'
  | 'forget_cancelled'
  | 'user_forgotten'
  | 'rate_limited'
  | 'crisis_flagged'

export async function logEvent(
  db: Db,
  type: EventType,
  userId: string | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query('insert into eventlog (id, user_id, type, detail) values ($1, $2, $3, $4)', [
    newId(),
    userId,
    type,
    detail,
  ])
}
