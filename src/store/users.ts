import type { Db } from './db.ts'
import { logEvent } from './events.ts'
import { newId, toDate, toDateOrNull } from './rows.ts'

export type NameState = 'none' | 'awaiting'

export interface AppUser {
  id: string
  botId: string
  kakaoUserId: string
  plusfriendUserKey: string | null
  name: string | null
  nameState: NameState
  /** While awaiting a name: until when; afterwards the state counts as 'none'. */
  nameStateUntil: Date | null
  /** Until when a "대화 기록 삭제" waits for its confirmation (forget-me); null when none is pending. */
  forgetUntil?: Date | null
  createdAt: Date
  updatedAt: Date
}

type Row = Record<string, unknown>

export const toUser = (r: Row): AppUser => ({
  id: String(r.id),
  botId: String(r.bot_id),
  kakaoUserId: String(r.kakao_user_id),
  plusfriendUserKey: (r.plusfriend_user_key as string | null) ?? null,
  name: (r.name as string | null) ?? null,
  nameState: r.name_state as NameState,
  nameStateUntil: toDateOrNull(r.name_state_until),
  forgetUntil: toDateOrNull(r.forget_until),
  createdAt: toDate(r.created_at),
  updatedAt: toDate(r.updated_at),
})

/** True while the user is being asked for a name and the question has not expired. */
export const isAwaitingName = (user: AppUser, now: Date): boolean =>
  user.nameState === 'awaiting' && (user.nameStateUntil === null || user.nameStateUntil > now)

export interface UserKey {
  botId: string
  kakaoUserId: string
  plusfriendUserKey?: string | null
}

/**
 * Finds or creates the user of a Kakao request (safe under concurrent first messages). A returning user with
 * nothing new costs one read and no write; otherwise `insertUser`.
 */
export async function upsertUser(
  db: Db,
  key: UserKey,
  now = new Date(),
): Promise<{ user: AppUser; created: boolean }> {
  const found = await db.query<Row>('select * from appuser where bot_id = $1 and kakao_user_id = $2', [
    key.botId,
    key.kakaoUserId,
  ])
  if (found[0]) {
    const user = toUser(found[0])
    if (!key.plusfriendUserKey || key.plusfriendUserKey === user.plusfriendUserKey)
      return { user, created: false }
  }
  return insertUser(db, key, now)
}

/**
 * Writes the user of a Kakao request without reading it first (the caller looked and did not find it, or found
 * it with another plusfriendUserKey); a user created here is logged as `user_created`, on PostgreSQL in the same
 * statement (one round trip, one commit). `created` is true when this call inserted the row: another request
 * may have created the user meanwhile.
 */
export async function insertUser(
  db: Db,
  key: UserKey,
  now = new Date(),
): Promise<{ user: AppUser; created: boolean }> {
  const id = newId()
  const params = [id, key.botId, key.kakaoUserId, key.plusfriendUserKey ?? null, now]
  if (db.dialect === 'postgres') {
    const rows = await db.query<Row>(`with ${insertUserCtes} select * from u`, [...params, newId()])
    const user = toUser(rows[0]!)
    return { user, created: user.id === id }
  }
  const user = toUser((await db.query<Row>(UPSERT_USER, params))[0]!)
  const created = user.id === id
  if (created) await logEvent(db, 'user_created', user.id, { bot_id: user.botId })
  return { user, created }
}

/** The user upsert: $1 id, $2 bot id, $3 Kakao user id, $4 plusfriendUserKey, $5 now; returns the row. */
const UPSERT_USER = `insert into appuser (id, bot_id, kakao_user_id, plusfriend_user_key, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $5)
     on conflict (bot_id, kakao_user_id) do update
       set plusfriend_user_key = coalesce(excluded.plusfriend_user_key, appuser.plusfriend_user_key),
           updated_at = excluded.updated_at
     returning *`

/**
 * PostgreSQL CTEs: `u`, the user upsert ($1–$5 as UPSERT_USER), and its `user_created` event (id $6) when this
 * statement inserted the user (`u.id = $1`).
 */
export const insertUserCtes = `u as (${UPSERT_USER}),
       e as (insert into eventlog (id, user_id, type, detail)
             select $6, u.id, 'user_created', jsonb_build_object('bot_id', u.bot_id) from u where u.id = $1)`

export async function getUser(db: Db, id: string): Promise<AppUser | null> {
  const rows = await db.query<Row>('select * from appuser where id = $1', [id])
  return rows[0] ? toUser(rows[0]) : null
}

export async function setUserName(db: Db, userId: string, name: string, now = new Date()): Promise<AppUser> {
  const rows = await db.query<Row>(
    `update appuser set name = $2, name_state = 'none', name_state_until = null, updated_at = $3
     where id = $1 returning *`,
    [userId, name, now],
  )
  return toUser(rows[0]!)
}

export async function setNameState(
  db: Db,
  userId: string,
  state: NameState,
  until: Date | null,
  now = new Date(),
): Promise<AppUser> {
  const rows = await db.query<Row>(
    'update appuser set name_state = $2, name_state_until = $3, updated_at = $4 where id = $1 returning *',
    [userId, state, until, now],
  )
  return toUser(rows[0]!)
}
