import type { Db } from './db.ts'

export interface Bucket {
  /** Tokens the bucket holds when full: how many messages may come at once. */
  burst: number
  /** Refill rate: messages per minute, sustained. */
  perMinute: number
}

/**
 * Takes one token from a user's bucket in ONE statement (no read-then-write, so concurrent turns on any number
 * of instances cannot both take the last token): refill by the time passed, cap at `burst`, take one if at least
 * one is there. Returns whether the message may go on. Time runs on the caller's clock in epoch ms; a clock
 * behind the stored time refills nothing rather than draining the bucket.
 */
export async function takeToken(db: Db, userId: string, bucket: Bucket, now = Date.now()): Promise<boolean> {
  const rows = await db.query<{ allowed: number }>(
    `${takeTokenSql(1)} returning allowed`,
    takeTokenParams(userId, bucket, now),
  )
  return Number(rows[0]?.allowed) === 1
}

/**
 * The token-taking upsert (without its `returning`), its four parameters numbered from `first`: user id, burst,
 * now (epoch ms), refill per ms. Shared with the turn's single enqueue statement (turn-enqueue.ts), which passes
 * a `guard` condition: when it is false no token is taken (a duplicate, or a turn decided on stale state).
 */
export function takeTokenSql(first: number, guard = 'true'): string {
  const [user, burst, now, rate] = [first, first + 1, first + 2, first + 3].map((n) => `$${n}`)
  const refilled = `(case when ${now} > r.updated_ms
      then r.tokens + (${now} - r.updated_ms) * cast(${rate} as double precision) else r.tokens end)`
  const available = `(case when ${refilled} > cast(${burst} as double precision) then cast(${burst} as double precision)
      else ${refilled} end)`
  return `insert into ratelimit as r (user_id, tokens, updated_ms, allowed)
     select cast(${user} as text), cast(${burst} as double precision) - 1, cast(${now} as bigint), 1 where ${guard}
     on conflict (user_id) do update set
       tokens = case when ${available} >= 1 then ${available} - 1 else ${available} end,
       updated_ms = case when ${now} > r.updated_ms then ${now} else r.updated_ms end,
       allowed = case when ${available} >= 1 then 1 else 0 end`
}

export const takeTokenParams = (userId: string, bucket: Bucket, now: number): unknown[] => [
  userId,
  bucket.burst,
  now,
  bucket.perMinute / 60_000,
]
