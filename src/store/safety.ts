import type { CrisisKind } from '../safety/lexicon.ts'
import { type Conversation, toConversation } from './conversations.ts'
import type { Db } from './db.ts'
import { type Message, toMessage } from './messages.ts'
import { createPromptVersion } from './prompts.ts'
import { toDate } from './rows.ts'

type Row = Record<string, unknown>

/**
 * Adds crisis kinds to a conversation's flag (kept: a flag is never cleared by a calmer turn). Returns the kinds
 * that are new, so the caller writes one eventlog row and one alert per new kind, not per message. Run it in
 * the transaction that writes the event: on PostgreSQL the row is locked so two turns cannot both add a kind.
 */
export async function flagConversation(
  tx: Db,
  convId: string,
  kinds: readonly CrisisKind[],
  now: Date,
): Promise<{ added: CrisisKind[]; conversation: Conversation }> {
  const lock = tx.dialect === 'postgres' ? ' for update' : ''
  const rows = await tx.query<Row>(`select crisis_kinds from conversation where id = $1${lock}`, [convId])
  if (!rows[0]) throw new Error(`conversation ${convId} does not exist`)
  const had = rows[0].crisis_kinds ? String(rows[0].crisis_kinds).split(',') : []
  const added = kinds.filter((k) => !had.includes(k))
  const all = [...had, ...added].join(',')
  const updated = await tx.query<Row>(
    `update conversation set crisis_kinds = $2, flagged_at = coalesce(flagged_at, $3) where id = $1 returning *`,
    [convId, all, now],
  )
  return { added, conversation: toConversation(updated[0]!) }
}

export interface FlaggedConversation {
  conversation: Conversation
  userId: string
  userName: string | null
  /** The newest turns, oldest first. */
  lastTurns: Pick<Message, 'role' | 'content' | 'createdAt'>[]
}

/** Flagged conversations, newest flag first, each with its last turns. */
export async function listFlagged(
  db: Db,
  opts: { since?: Date | null; limit?: number; turns?: number } = {},
): Promise<FlaggedConversation[]> {
  const since = opts.since ? 'and c.flagged_at >= $2' : ''
  const rows = await db.query<Row>(
    `select c.*, u.name as user_name from conversation c join appuser u on u.id = c.user_id
      where c.flagged_at is not null ${since}
      order by c.flagged_at desc, c.id desc limit $1`,
    opts.since ? [opts.limit ?? 50, opts.since] : [opts.limit ?? 50],
  )
  const out: FlaggedConversation[] = []
  for (const r of rows) {
    const messages = await db.query<Row>(
      'select * from message where conv_id = $1 order by created_at desc, id desc limit $2',
      [r.id, opts.turns ?? 6],
    )
    out.push({
      conversation: toConversation(r),
      userId: String(r.user_id),
      userName: r.user_name === null || r.user_name === undefined ? null : String(r.user_name),
      lastTurns: messages
        .map(toMessage)
        .reverse()
        .map((m) => ({ role: m.role, content: m.content, createdAt: toDate(m.createdAt) })),
    })
  }
  return out
}

/** The moderation endpoint's verdict, recorded on the task that asked it (SAFETY_MODERATION). */
export async function setTaskModeration(
  db: Db,
  taskId: string,
  verdict: Record<string, unknown>,
): Promise<void> {
  await db.query('update aiprocessingtask set moderation = $2 where id = $1', [taskId, verdict])
}

/**
 * Creates version 1 of a prompt, active, when the name has no version at all (the safety prompt is seeded the
 * first time it is needed). An operator's own versions are never touched. Returns whether it created one.
 */
export async function ensurePrompt(
  db: Db,
  name: string,
  systemPrompt: string,
  description: string,
): Promise<boolean> {
  const rows = await db.query('select 1 from prompttemplate where name = $1 limit 1', [name])
  if (rows.length > 0) return false
  const created = await createPromptVersion(db, { name, systemPrompt, description, activate: true })
  // Two instances may race to the first flag; the loser's version 2 is the same text, so deactivate nothing.
  return created.version === 1
}
