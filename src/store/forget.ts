import type { Db } from './db.ts'
import { logEvent } from './events.ts'
import { type AppUser, toUser } from './users.ts'

type Row = Record<string, unknown>

/** Rows kept about one user, table by table (what `kbot users show` prints and forget-me erases). */
export interface UserFootprint {
  conversation: number
  message: number
  promptlog: number
  usersummary: number
  aiprocessingtask: number
  eventlog: number
}

/** Users by Kakao user key (botUserKey, on any bot) or by their appuser id. */
export async function findUsersByKey(db: Db, key: string): Promise<AppUser[]> {
  const rows = await db.query<Row>(
    'select * from appuser where kakao_user_id = $1 or cast(id as text) = $2 order by created_at',
    [key, key.toLowerCase()],
  )
  return rows.map(toUser)
}

// The user's messages: through their conversations (message rows carry no user id).
const USER_MESSAGES =
  'select m.id from message m join conversation c on c.id = m.conv_id where c.user_id = $1'

export async function userFootprint(db: Db, userId: string): Promise<UserFootprint> {
  const [r] = await db.query<Row>(
    `select
       (select count(*) from conversation where user_id = $1) as conversation,
       (select count(*) from (${USER_MESSAGES}) x) as message,
       (select count(*) from promptlog where user_id = $1 or msg_id in (${USER_MESSAGES})) as promptlog,
       (select count(*) from usersummary where user_id = $1) as usersummary,
       (select count(*) from aiprocessingtask where user_id = $1) as aiprocessingtask,
       (select count(*) from eventlog where user_id = $1) as eventlog`,
    [userId],
  )
  return {
    conversation: Number(r!.conversation),
    message: Number(r!.message),
    promptlog: Number(r!.promptlog),
    usersummary: Number(r!.usersummary),
    aiprocessingtask: Number(r!.aiprocessingtask),
    eventlog: Number(r!.eventlog),
  }
}

/**
 * Erases every row of a user, the appuser row (key and name) included, in one transaction: either all of it
 * goes or nothing does. Children go first and explicitly, so nothing depends on cascades being enforced. A
 * final `user_forgotten` event records that an erasure happened, with counts but with no user id or key:
 * keeping either would defeat the purpose. Returns what was erased, or null when the user did not exist.
 */
export async function eraseUser(
  db: Db,
  userId: string,
  by: 'user' | 'operator',
): Promise<UserFootprint | null> {
  return db.tx(async (tx) => {
    const found = await tx.query('select id from appuser where id = $1', [userId])
    if (found.length === 0) return null
    const del = async (sql: string) => (await tx.query(`${sql} returning 1 as x`, [userId])).length
    const promptlog = await del(`delete from promptlog where user_id = $1 or msg_id in (${USER_MESSAGES})`)
    const usersummary = await del('delete from usersummary where user_id = $1')
    const aiprocessingtask = await del('delete from aiprocessingtask where user_id = $1')
    const message = await del(
      'delete from message where conv_id in (select id from conversation where user_id = $1)',
    )
    const conversation = await del('delete from conversation where user_id = $1')
    const eventlog = await del('delete from eventlog where user_id = $1')
    await tx.query('delete from appuser where id = $1', [userId])
    const erased = { conversation, message, promptlog, usersummary, aiprocessingtask, eventlog }
    await logEvent(tx, 'user_forgotten', null, { by, erased })
    return erased
  })
}

/** Opens (until a time) or closes (null) the "delete everything?" question of forget-me. */
export async function setForgetUntil(
  db: Db,
  userId: string,
  until: Date | null,
  now = new Date(),
): Promise<AppUser | null> {
  const rows = await db.query<Row>(
    'update appuser set forget_until = $2, updated_at = $3 where id = $1 returning *',
    [userId, until, now],
  )
  return rows[0] ? toUser(rows[0]) : null
}
