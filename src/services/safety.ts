/** Flagged conversations for people: `kbot safety list` and `GET /admin/safety` both call `listSafety`. */
import { AppError } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { listFlagged } from '../store/safety.ts'

export interface SafetyEntry {
  conversation_id: string
  user_id: string
  user_name: string | null
  kinds: string[]
  flagged_at: string
  last_activity_at: string
  ended: boolean
  last_turns: { role: string; content: string; at: string }[]
}

/**
 * `--since` / `?since=`: an ISO date or time ("2026-12-01", "2026-12-01T09:00:00Z") or a span back from now
 * ("30m", "24h", "7d"). Anything else is a BAD_REQUEST naming the accepted forms.
 */
export function parseSince(value: string | undefined | null, now = new Date()): Date | null {
  if (value === undefined || value === null || value.trim() === '') return null
  const span = /^(\d{1,6})([mhd])$/.exec(value.trim())
  if (span) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as 'm' | 'h' | 'd']
    return new Date(now.getTime() - Number(span[1]) * unit)
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const d = new Date(value.trim())
    if (!Number.isNaN(d.getTime())) return d
  }
  throw new AppError(
    'BAD_REQUEST',
    `since must be an ISO date/time or a span such as 30m, 24h, 7d (got "${value}")`,
  )
}

export async function listSafety(
  db: Db,
  opts: { since?: Date | null; limit?: number; turns?: number } = {},
): Promise<SafetyEntry[]> {
  const rows = await listFlagged(db, opts)
  return rows.map((r) => ({
    conversation_id: r.conversation.id,
    user_id: r.userId,
    user_name: r.userName,
    kinds: r.conversation.crisisKinds,
    flagged_at: r.conversation.flaggedAt!.toISOString(),
    last_activity_at: r.conversation.lastActivityAt.toISOString(),
    ended: r.conversation.endedAt !== null,
    last_turns: r.lastTurns.map((t) => ({ role: t.role, content: t.content, at: t.createdAt.toISOString() })),
  }))
}
