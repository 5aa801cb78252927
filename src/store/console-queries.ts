import type { Db } from './db.ts'
import { toDate, toDateOrNull, toNumOrNull } from './rows.ts'
import { type AppUser, toUser } from './users.ts'

type Row = Record<string, unknown>

/** LIKE pattern for "contains", with the user's own % and _ taken literally. */
const contains = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/**
 * Users whose Kakao user key, plusfriend key or appuser id is exactly `q`, or whose name contains it; most
 * recently active first. Exact key matches need no index scan beyond the unique (bot_id, kakao_user_id) one.
 */
export async function searchUsers(db: Db, q: string, limit: number): Promise<AppUser[]> {
  const rows = await db.query<Row>(
    `select * from appuser
      where kakao_user_id = $1 or plusfriend_user_key = $1 or cast(id as text) = $2
         or lower(name) like $3 escape '\\'
      order by updated_at desc limit $4`,
    [q, q.toLowerCase(), contains(q), limit],
  )
  return rows.map(toUser)
}

export interface ConversationRow {
  id: string
  startedAt: Date
  lastActivityAt: Date
  endedAt: Date | null
  /** Crisis kinds the conversation was flagged with (SPEC §12), empty when never flagged. */
  crisisKinds: string[]
  flaggedAt: Date | null
}

/** A user's conversations, newest first. */
export async function conversationsOf(db: Db, userId: string, limit: number): Promise<ConversationRow[]> {
  const rows = await db.query<Row>(
    `select id, started_at, last_activity_at, ended_at, crisis_kinds, flagged_at from conversation
      where user_id = $1 order by started_at desc limit $2`,
    [userId, limit],
  )
  return rows.map((r) => ({
    id: String(r.id),
    startedAt: toDate(r.started_at),
    lastActivityAt: toDate(r.last_activity_at),
    endedAt: toDateOrNull(r.ended_at),
    crisisKinds: r.crisis_kinds ? String(r.crisis_kinds).split(',').filter(Boolean) : [],
    flaggedAt: toDateOrNull(r.flagged_at),
  }))
}

export interface TranscriptLine {
  id: string
  convId: string
  role: 'user' | 'assistant'
  content: string
  createdAt: Date
  /** From the assistant message's promptlog row; null for user turns. */
  model: string | null
  promptName: string | null
  promptVersion: number | null
  promptTokens: number | null
  completionTokens: number | null
  totalTokens: number | null
  costUsd: number | null
  latencyMs: number | null
}

/** Every message of these conversations in order, each assistant turn with its accounting. */
export async function transcriptOf(db: Db, convIds: readonly string[]): Promise<TranscriptLine[]> {
  if (convIds.length === 0) return []
  const marks = convIds.map((_, i) => `$${i + 1}`).join(', ')
  const rows = await db.query<Row>(
    `select m.id, m.conv_id, m.role, m.content, m.tokens, m.created_at,
            p.model, p.prompt_name, p.prompt_version, p.prompt_tokens, p.completion_tokens, p.total_tokens,
            p.cost_usd, p.latency_ms
       from message m left join promptlog p on p.msg_id = m.id
      where m.conv_id in (${marks})
      order by m.created_at, m.id`,
    convIds,
  )
  return rows.map((r) => ({
    id: String(r.id),
    convId: String(r.conv_id),
    role: r.role === 'assistant' ? 'assistant' : 'user',
    content: String(r.content),
    createdAt: toDate(r.created_at),
    model: r.model == null ? null : String(r.model),
    promptName: r.prompt_name == null ? null : String(r.prompt_name),
    promptVersion: toNumOrNull(r.prompt_version),
    promptTokens: toNumOrNull(r.prompt_tokens),
    completionTokens: toNumOrNull(r.completion_tokens),
    totalTokens: toNumOrNull(r.total_tokens ?? r.tokens),
    costUsd: toNumOrNull(r.cost_usd),
    latencyMs: toNumOrNull(r.latency_ms),
  }))
}

/** The user's eventlog rows of these types, newest first (crisis flags and what happened to them). */
export async function userEvents(db: Db, userId: string, types: readonly string[], limit: number) {
  const marks = types.map((_, i) => `$${i + 2}`).join(', ')
  const rows = await db.query<Row>(
    `select type, detail, created_at from eventlog
      where user_id = $1 and type in (${marks}) order by created_at desc limit $${types.length + 2}`,
    [userId, ...types, limit],
  )
  return rows.map((r) => ({
    type: String(r.type),
    detail: typeof r.detail === 'string' ? (JSON.parse(r.detail) as unknown) : (r.detail ?? null),
    createdAt: toDate(r.created_at),
  }))
}

/** Model calls per UTC hour since `since`: count, tokens, cost. Hour keys look like "2026-12-01T09". */
export async function tokensByHour(db: Db, since: Date) {
  // The dialects name an hour differently; both produce the same text key, so the caller never branches.
  const hour =
    db.dialect === 'postgres'
      ? `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24')`
      : `substr(created_at, 1, 13)`
  const rows = await db.query<Row>(
    `select ${hour} as hour, count(*) as calls, sum(total_tokens) as tokens, sum(cost_usd) as cost
       from promptlog where created_at >= $1 group by 1`,
    [since],
  )
  return rows.map((r) => ({
    hour: String(r.hour),
    calls: Number(r.calls),
    tokens: Number(r.tokens ?? 0),
    costUsd: Number(r.cost ?? 0),
  }))
}
