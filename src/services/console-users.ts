import * as v from 'valibot'
import { AppError } from '../errors.ts'
import {
  conversationsOf,
  searchUsers,
  type TranscriptLine,
  transcriptOf,
  userEvents,
} from '../store/console-queries.ts'
import type { Db } from '../store/db.ts'
import { uuidOrNull } from '../store/rows.ts'
import { getUser } from '../store/users.ts'
import { showUser } from './users.ts'
import { parseInput } from './validate.ts'

/** The eventlog types that mark a conversation for a person's attention (SPEC §12). */
export const CRISIS_EVENTS = ['crisis_flagged'] as const

const Query = v.strictObject({
  q: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'type a Kakao user key or a name'),
    v.maxLength(200, 'must be at most 200 characters'),
  ),
})

/** `GET /admin/users?q=`: users by exact Kakao user key (or plusfriend key, or id) or by a part of the name. */
export async function findUsers(db: Db, query: unknown) {
  const { q } = parseInput(Query, query)
  const users = await searchUsers(db, q, 50)
  return users.map((u) => ({
    id: u.id,
    bot_id: u.botId,
    kakao_user_id: u.kakaoUserId,
    plusfriend_user_key: u.plusfriendUserKey,
    name: u.name,
    created_at: u.createdAt.toISOString(),
    updated_at: u.updatedAt.toISOString(),
  }))
}

/** Costs are stored in USD; the console shows them in `[usage] currency` (KRW at `krw_per_usd`). */
export interface Display {
  currency: 'USD' | 'KRW'
  rate: number
}
const USD: Display = { currency: 'USD', rate: 1 }

const lineView = (l: TranscriptLine, shown: (usd: number | null) => number | null) => ({
  id: l.id,
  role: l.role,
  content: l.content,
  created_at: l.createdAt.toISOString(),
  ...(l.role === 'assistant'
    ? {
        model: l.model,
        prompt: l.promptName === null ? null : { name: l.promptName, version: l.promptVersion },
        prompt_tokens: l.promptTokens,
        completion_tokens: l.completionTokens,
        total_tokens: l.totalTokens,
        cost_usd: l.costUsd,
        cost: shown(l.costUsd),
        latency_ms: l.latencyMs,
      }
    : {}),
})

/**
 * `GET /admin/users/:id/transcript`: the user (as `kbot users show` sees them), their newest conversations with
 * every message, each assistant turn with its tokens and cost, and the crisis flags raised on them.
 */
export async function userTranscript(db: Db, userId: string, display: Display = USD, limit = 20) {
  const shown = (usd: number | null) => (usd === null ? null : usd * display.rate)
  const id = uuidOrNull(userId)
  const user = id ? await getUser(db, id) : null
  if (!user) throw new AppError('NOT_FOUND', `no user with id ${userId}`)
  const [view] = await showUser(db, user.id)
  const conversations = await conversationsOf(db, user.id, limit)
  const lines = await transcriptOf(
    db,
    conversations.map((c) => c.id),
  )
  const flags = await userEvents(db, user.id, CRISIS_EVENTS, 100)
  return {
    user: view!,
    currency: display.currency,
    crisis_flags: flags.map((f) => ({
      type: f.type,
      detail: f.detail,
      created_at: f.createdAt.toISOString(),
    })),
    conversations: conversations.map((c) => {
      const messages = lines.filter((l) => l.convId === c.id)
      const assistant = messages.filter((m) => m.role === 'assistant')
      return {
        id: c.id,
        started_at: c.startedAt.toISOString(),
        last_activity_at: c.lastActivityAt.toISOString(),
        ended_at: c.endedAt?.toISOString() ?? null,
        crisis_flagged: c.flaggedAt !== null,
        crisis_kinds: c.crisisKinds,
        flagged_at: c.flaggedAt?.toISOString() ?? null,
        total_tokens: assistant.reduce((n, m) => n + (m.totalTokens ?? 0), 0),
        cost_usd: assistant.reduce((n, m) => n + (m.costUsd ?? 0), 0),
        cost: shown(assistant.reduce((n, m) => n + (m.costUsd ?? 0), 0)),
        messages: messages.map((m) => lineView(m, shown)),
      }
    }),
  }
}
