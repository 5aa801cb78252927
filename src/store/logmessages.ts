import type { Db } from './db.ts'
import { newId } from './rows.ts'

export interface LogMessageRow {
  level: string
  source: string
  message: string
  context: Record<string, unknown>
  createdAt: Date
}

/** Stores a batch of warn/error lines in one statement (the log sink's background writer). */
export async function insertLogMessages(db: Db, rows: readonly LogMessageRow[]): Promise<void> {
  if (rows.length === 0) return
  const params: unknown[] = []
  const values = rows.map((r) => {
    const at = params.length
    params.push(newId(), r.level, r.source, r.message, r.context, r.createdAt)
    return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6})`
  })
  await db.query(
    `insert into logmessage (id, level, source, message, context, created_at) values ${values.join(', ')}`,
    params,
  )
}
