import type { Db } from './db.ts'
import { newId, toDate, toNumOrNull } from './rows.ts'

export type Role = 'user' | 'assistant'

export interface Message {
  id: string
  convId: string
  role: Role
  content: string
  tokens: number | null
  createdAt: Date
}

type Row = Record<string, unknown>

export const toMessage = (r: Row): Message => ({
  id: String(r.id),
  convId: String(r.conv_id),
  role: r.role as Role,
  content: String(r.content),
  tokens: toNumOrNull(r.tokens),
  createdAt: toDate(r.created_at),
})

export async function insertMessage(
  db: Db,
  input: {
    convId: string
    role: Role
    content: string
    tokens?: number | null
    id?: string
    createdAt?: Date
  },
): Promise<Message> {
  const rows = await db.query<Row>(
    'insert into message (id, conv_id, role, content, tokens, created_at) values ($1, $2, $3, $4, $5, $6) returning *',
    [
      input.id ?? newId(),
      input.convId,
      input.role,
      input.content,
      input.tokens ?? null,
      input.createdAt ?? new Date(),
    ],
  )
  return toMessage(rows[0]!)
}

/** The newest `limit` messages of a conversation, oldest first. */
export async function recentMessages(db: Db, convId: string, limit: number): Promise<Message[]> {
  const rows = await db.query<Row>(
    'select * from message where conv_id = $1 order by created_at desc, id desc limit $2',
    [convId, limit],
  )
  return rows.map(toMessage).reverse()
}

/** The conversation's last `limit` messages before a given one (a task's own user message), oldest first. */
export async function messagesBefore(
  db: Db,
  convId: string,
  before: { id: string; createdAt: Date },
  limit: number,
): Promise<Message[]> {
  const rows = await db.query<Row>(
    `select * from message where conv_id = $1 and (created_at < $2 or (created_at = $2 and id < $3))
      order by created_at desc, id desc limit $4`,
    [convId, before.createdAt, before.id, limit],
  )
  return rows.map(toMessage).reverse()
}

export async function latestAssistantMessage(db: Db, convId: string): Promise<Message | null> {
  const rows = await db.query<Row>(
    `select * from message where conv_id = $1 and role = 'assistant' order by created_at desc, id desc limit 1`,
    [convId],
  )
  return rows[0] ? toMessage(rows[0]) : null
}
