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
    `${takeTokenSql({ user: '$1', burst: '$2', now: '$3', rate: '$4' })} returning allowed`,
    takeTokenParams(userId, bucket, now),
  )
  return Number(rows[0]?.allowed) === 1
}

/**
 * The token-taking upsert (without its `returning`): `user`, `burst`, `now` (epoch ms) and `rate` (refill per
 * ms) are SQL expressions, `from` what follows the select list (a `from … where …`, or a `where`). `burst` and
 * `rate` are read again by the conflict's update, so they are parameters or constants, never row values; the
 * update reads `now` back from the row it would have inserted. The turn's enqueue statement (turn-enqueue.ts)
 * takes one token per user of a group this way, with a `where` that takes none for a duplicate or a turn
 * decided on stale state.
 */
export function takeTokenSql(
  e: { user: string; burst: string; now: string; rate: string },
  from = 'where true',
): string {
  const [burst, rate, now] = [
    `cast(${e.burst} as double precision)`,
    `cast(${e.rate} as double precision)`,
    'excluded.updated_ms',
  ]
  const refilled = `(case when ${now} > r.updated_ms
      then r.tokens + (${now} - r.updated_ms) * ${rate} else r.tokens end)`
  const available = `(case when ${refilled} > ${burst} then ${burst} else ${refilled} end)`
  return `insert into ratelimit as r (user_id, tokens, updated_ms, allowed)
     select cast(${e.user} as text), ${burst} - 1, cast(${e.now} as bigint), 1 ${from}
     on conflict (user_id) do update set
       tokens = case when ${available} >= 1 then ${available} - 1 else ${available} end,
       updated_ms = case when ${now} > r.updated_ms then ${now} else r.updated_ms end,
       allowed = case when ${available} >= 1 then 1 else 0 end`
}

const takeTokenParams = (userId: string, bucket: Bucket, now: number): unknown[] => [
  userId,
  bucket.burst,
  now,
  bucket.perMinute / 60_000,
]
