import type { Config } from '../config.ts'
import type { Db } from '../store/db.ts'
import { findIdleConversations, type IdleConversation } from '../store/memory.ts'

/**
 * The summary job's tick: conversations idle past the session timeout whose messages are not all in the
 * user's summary yet, each to be enqueued as one summary task keyed by `summaryDedupeKey` (so that two
 * instances ticking together, or a tick before the last task ran, enqueue it once).
 */
export function findIdleForSummary(
  db: Db,
  config: Config,
  now = new Date(),
  limit = 500,
): Promise<IdleConversation[]> {
  return findIdleConversations(db, {
    idleBefore: new Date(now.getTime() - config.session_timeout_minutes * 60_000),
    activeAfter: new Date(now.getTime() - config.memory.lookback_days * 86_400_000),
    minNew: config.memory.min_new_messages,
    limit,
  })
}

/** One summary task per conversation and newest message: a second enqueue of the same pair is refused. */
export const summaryDedupeKey = (convId: string, lastMessageId: string): string =>
  `summary:${convId}:${lastMessageId}`
