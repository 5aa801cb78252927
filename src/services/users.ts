import { AppError } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { eraseUser, findUsersByKey, type UserFootprint, userFootprint } from '../store/forget.ts'
import { getSummary } from '../store/summaries.ts'
import type { AppUser } from '../store/users.ts'

/** Everything kbot keeps about one user, as `kbot users show` prints it. */
export interface UserView {
  id: string
  bot_id: string
  kakao_user_id: string
  plusfriend_user_key: string | null
  name: string | null
  name_state: string
  created_at: string
  updated_at: string
  summary: string | null
  summary_updated_at: string | null
  rows: UserFootprint
}

export interface ForgetOutcome {
  /** The appuser ids erased (their key is not repeated: it is gone). */
  users: { id: string; erased: UserFootprint }[]
}

function checkKey(key: string): string {
  const k = key.trim()
  if (k === '' || k.length > 200) throw new AppError('BAD_REQUEST', 'the user key must be 1–200 characters')
  return k
}

async function usersOf(db: Db, key: string): Promise<AppUser[]> {
  const users = await findUsersByKey(db, checkKey(key))
  if (users.length === 0) throw new AppError('NOT_FOUND', `no user with key ${key.trim()}`)
  return users
}

/**
 * What is kept about the user(s) of a Kakao user key (botUserKey; the same key on two bots is two users) or
 * an appuser id: the row, the summary and how many rows of each table belong to them.
 */
export async function showUser(db: Db, key: string): Promise<UserView[]> {
  const users = await usersOf(db, key)
  return Promise.all(
    users.map(async (u) => {
      const summary = await getSummary(db, u.id)
      return {
        id: u.id,
        bot_id: u.botId,
        kakao_user_id: u.kakaoUserId,
        plusfriend_user_key: u.plusfriendUserKey,
        name: u.name,
        name_state: u.nameState,
        created_at: u.createdAt.toISOString(),
        updated_at: u.updatedAt.toISOString(),
        summary: summary?.summary ?? null,
        summary_updated_at: summary?.updatedAt.toISOString() ?? null,
        rows: await userFootprint(db, u.id),
      }
    }),
  )
}

/** Erases every row of the user(s) of a key (operator: `kbot users forget`). NOT_FOUND when there is none. */
export async function forgetUser(db: Db, key: string): Promise<ForgetOutcome> {
  const users = await usersOf(db, key)
  const outcome: ForgetOutcome = { users: [] }
  for (const u of users) {
    const erased = await eraseUser(db, u.id, 'operator')
    if (erased) outcome.users.push({ id: u.id, erased })
  }
  return outcome
}

/** Erases one user by appuser id (the user's own "대화 기록 삭제", confirmed). */
export const forgetUserById = (db: Db, userId: string): Promise<UserFootprint | null> =>
  eraseUser(db, userId, 'user')
