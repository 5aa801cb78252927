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

/** The queue's enqueue as the summary tick needs it: false when a task with that dedupe key already exists. */
export type EnqueueSummary = (task: { userId: string; convId: string; dedupeKey: string }) => Promise<boolean>

/**
 * The whole tick of the summary job: finds idle conversations and enqueues one summary task for each, keyed by
 * conversation and newest message. Returns how many were found and how many were new to the queue.
 *
 * @example
 *   // in src/jobs/memory.ts, with the runner's enqueueTask (null on a duplicate dedupe key):
 *   await enqueueIdleSummaries(db, config, async (t) =>
 *     (await enqueueTask(db, { kind: 'summary', input: t, userId: t.userId, convId: t.convId, dedupeKey: t.dedupeKey })) !== null)
 */
export async function enqueueIdleSummaries(
  db: Db,
  config: Config,
  enqueue: EnqueueSummary,
  now = new Date(),
): Promise<{ found: number; enqueued: number }> {
  if (!config.memory.enabled) return { found: 0, enqueued: 0 }
  const idle = await findIdleForSummary(db, config, now)
  let enqueued = 0
  for (const c of idle) {
    if (
      await enqueue({
        userId: c.userId,
        convId: c.convId,
        dedupeKey: summaryDedupeKey(c.convId, c.lastMessageId),
      })
    )
      enqueued++
  }
  return { found: idle.length, enqueued }
}
