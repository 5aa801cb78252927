import type { Db } from './db.ts'

/**
 * Retention deletes, each at most `batch` rows per statement (short statements, short locks); the caller
 * repeats until fewer than `batch` go. Each returns how many rows went.
 */

export async function deleteOldEvents(db: Db, before: Date, batch: number): Promise<number> {
  const rows = await db.query(
    `delete from eventlog where id in (select id from eventlog where created_at < $1 limit $2) returning id`,
    [before, batch],
  )
  return rows.length
}

export async function deleteOldLogLines(db: Db, before: Date, batch: number): Promise<number> {
  const rows = await db.query(
    `delete from logmessage where id in (select id from logmessage where created_at < $1 limit $2) returning id`,
    [before, batch],
  )
  return rows.length
}

/**
 * Messages of conversations idle since before `before` (ended, or abandoned: a conversation is only marked
 * ended when its user comes back), with their promptlog rows. The message a user's summary points at is kept,
 * so that the summary job still knows where it stopped.
 */
export async function deleteOldMessages(db: Db, before: Date, batch: number): Promise<number> {
  return db.tx(async (tx) => {
    const ids = await tx.query<{ id: string }>(
      `select m.id from message m join conversation c on c.id = m.conv_id
        where c.last_activity_at < $1
          and not exists (select 1 from usersummary s where s.last_message_id = m.id)
        limit $2`,
      [before, batch],
    )
    if (ids.length === 0) return 0
    const list = ids.map((r) => r.id)
    const marks = list.map((_, i) => `$${i + 1}`).join(', ')
    await tx.query(`delete from promptlog where msg_id in (${marks})`, list)
    await tx.query(`delete from message where id in (${marks})`, list)
    return list.length
  })
}

/** promptlog rows without a message (summary calls) older than `before`. */
export async function deleteOldCallLogs(db: Db, before: Date, batch: number): Promise<number> {
  // These rows have no key of their own (msg_id is null): the physical row id picks the batch.
  const rowId = db.dialect === 'postgres' ? 'ctid' : 'rowid'
  const rows = await db.query(
    `delete from promptlog where ${rowId} in (
       select ${rowId} from promptlog where msg_id is null and created_at < $1 limit $2)
     returning 1 as x`,
    [before, batch],
  )
  return rows.length
}
