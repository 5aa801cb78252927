import type { Db } from './db.ts'
import { type Message, toMessage } from './messages.ts'
import { createPromptVersion } from './prompts.ts'
import type { ChatMessage } from './tasks.ts'

type Row = Record<string, unknown>

/** A conversation whose messages are not all in its user's summary yet. */
export interface IdleConversation {
  userId: string
  convId: string
  /** The newest message of the conversation: with the conversation, the summary task's dedupe key. */
  lastMessageId: string
  newMessages: number
}

/**
 * Conversations idle since before `idleBefore` (and active after `activeAfter`, which bounds the scan) with at
 * least `minNew` messages newer than their user's summary. Message ids are UUIDv7, so "newer" is "greater id".
 */
export async function findIdleConversations(
  db: Db,
  q: { idleBefore: Date; activeAfter: Date; minNew: number; limit: number },
): Promise<IdleConversation[]> {
  const rows = await db.query<Row>(
    `select c.id as conv_id, c.user_id, count(*) as n, max(cast(m.id as text)) as last_message_id
       from conversation c
       join message m on m.conv_id = c.id
       left join usersummary s on s.user_id = c.user_id
      where c.last_activity_at < $1 and c.last_activity_at > $2
        and (s.last_message_id is null or m.id > s.last_message_id)
      group by c.id, c.user_id
     having count(*) >= $3
      order by max(cast(m.id as text))
      limit $4`,
    [q.idleBefore, q.activeAfter, q.minNew, q.limit],
  )
  return rows.map((r) => ({
    userId: String(r.user_id),
    convId: String(r.conv_id),
    lastMessageId: String(r.last_message_id),
    newMessages: Number(r.n),
  }))
}

/**
 * The user's messages after `afterId` (all of them when null) in this conversation and the ones before it,
 * oldest first: a summary catches up on everything up to the idle conversation, never on a later one.
 */
export async function messagesToSummarise(
  db: Db,
  q: { userId: string; convId: string; afterId: string | null; limit: number },
): Promise<Message[]> {
  const base = `select m.* from message m join conversation c on c.id = m.conv_id
                 where c.user_id = $1 and c.id <= $2`
  const rows =
    q.afterId === null
      ? await db.query<Row>(`${base} order by m.id limit $3`, [q.userId, q.convId, q.limit])
      : await db.query<Row>(`${base} and m.id > $4 order by m.id limit $3`, [
          q.userId,
          q.convId,
          q.limit,
          q.afterId,
        ])
  return rows.map(toMessage)
}

/**
 * Writes the summary unless another one was written since `expected` (the last message id the caller read):
 * two summaries of one user racing must not let the older one win. Returns false when superseded.
 */
export async function saveSummary(
  db: Db,
  s: { userId: string; summary: string; lastMessageId: string; expected: string | null; now: Date },
): Promise<boolean> {
  const guard =
    s.expected === null ? 'usersummary.last_message_id is null' : 'usersummary.last_message_id = $5'
  const rows = await db.query(
    `insert into usersummary (user_id, summary, last_message_id, updated_at) values ($1, $2, $3, $4)
     on conflict (user_id) do update
        set summary = excluded.summary, last_message_id = excluded.last_message_id, updated_at = excluded.updated_at
      where ${guard}
     returning user_id`,
    [s.userId, s.summary, s.lastMessageId, s.now, ...(s.expected === null ? [] : [s.expected])],
  )
  return rows.length > 0
}

/** The accounting row of a model call that produced no message (a summary): promptlog with msg_id null. */
export async function insertCallLog(
  db: Db,
  c: {
    userId: string
    taskId: string | null
    prompt: { id: string | null; name: string; version: number | null }
    model: string
    temperature: number
    maxTokens: number
    messages: ChatMessage[]
    promptTokens: number | null
    completionTokens: number | null
    totalTokens: number | null
    latencyMs: number
    costUsd: number | null
    now: Date
  },
): Promise<void> {
  await db.query(
    `insert into promptlog (msg_id, user_id, task_id, prompt_id, prompt_name, prompt_version, model, temperature,
       max_tokens, messages, prompt_tokens, completion_tokens, total_tokens, latency_ms, cost_usd, created_at)
     values (null, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      c.userId,
      c.taskId,
      c.prompt.id,
      c.prompt.name,
      c.prompt.version,
      c.model,
      c.temperature,
      c.maxTokens,
      c.messages,
      c.promptTokens,
      c.completionTokens,
      c.totalTokens,
      c.latencyMs,
      c.costUsd,
      c.now,
    ],
  )
}

/** Creates version 1 of a prompt when the registry holds no version of that name (under migrate's lock). */
export async function seedPrompt(
  db: Db,
  p: { name: string; systemPrompt: string; description: string },
): Promise<boolean> {
  const rows = await db.query('select 1 from prompttemplate where name = $1 limit 1', [p.name])
  if (rows.length > 0) return false
  await createPromptVersion(db, { ...p, activate: true })
  return true
}
