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
  const refilled = `(case when $3 > r.updated_ms
      then r.tokens + ($3 - r.updated_ms) * cast($4 as double precision) else r.tokens end)`
  const available = `(case when ${refilled} > cast($2 as double precision) then cast($2 as double precision)
      else ${refilled} end)`
  const rows = await db.query<{ allowed: number }>(
    `insert into ratelimit as r (user_id, tokens, updated_ms, allowed)
     values ($1, cast($2 as double precision) - 1, $3, 1)
     on conflict (user_id) do update set
       tokens = case when ${available} >= 1 then ${available} - 1 else ${available} end,
       updated_ms = case when $3 > r.updated_ms then $3 else r.updated_ms end,
       allowed = case when ${available} >= 1 then 1 else 0 end
     returning allowed`,
    [userId, bucket.burst, now, bucket.perMinute / 60_000],
  )
  return Number(rows[0]?.allowed) === 1
}
