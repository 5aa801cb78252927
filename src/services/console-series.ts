import * as v from 'valibot'
import { tokensByHour } from '../store/console-queries.ts'
import type { Db } from '../store/db.ts'
import { parseInput } from './validate.ts'

/** Upper bounds (ms) of the ack latency buckets; Kakao gives a skill call 5 s. */
const BOUNDS = [25, 50, 100, 250, 500, 1000, 2000, 3000, 4000, 5000, Number.POSITIVE_INFINITY]
const KEEP_HOURS = 48

interface HourBucket {
  count: number
  sumMs: number
  maxMs: number
  histogram: number[]
}

const hourKey = (at: Date) => at.toISOString().slice(0, 13)

/**
 * This instance's ack latency of Kakao turns (/skill, /welcome) by UTC hour. The ack is never written to the
 * database (one more write per turn would cost the ack itself), so it lives here and starts empty at each start.
 */
export function createAckLatency(now = () => new Date()) {
  const hours = new Map<string, HourBucket>()
  return {
    record(ms: number) {
      const key = hourKey(now())
      let b = hours.get(key)
      if (!b) {
        b = { count: 0, sumMs: 0, maxMs: 0, histogram: BOUNDS.map(() => 0) }
        hours.set(key, b)
        // Map keeps insertion order, so the oldest hours come first.
        for (const old of hours.keys()) if (hours.size > KEEP_HOURS) hours.delete(old)
      }
      b.count++
      b.sumMs += ms
      b.maxMs = Math.max(b.maxMs, ms)
      b.histogram[BOUNDS.findIndex((bound) => ms <= bound)]!++
    },
    /** count, mean, p95 (as the upper bound of its bucket, capped by the max seen) and max of one hour. */
    hour(key: string) {
      const b = hours.get(key)
      if (!b) return { count: 0, mean_ms: null, p95_ms: null, max_ms: null }
      const target = Math.ceil(b.count * 0.95)
      let seen = 0
      let p95 = b.maxMs
      for (let i = 0; i < BOUNDS.length; i++) {
        seen += b.histogram[i]!
        if (seen >= target) {
          p95 = Math.round(Math.min(BOUNDS[i]!, b.maxMs))
          break
        }
      }
      return {
        count: b.count,
        mean_ms: Math.round(b.sumMs / b.count),
        p95_ms: p95,
        max_ms: Math.round(b.maxMs),
      }
    },
  }
}

export type AckLatency = ReturnType<typeof createAckLatency>

const SeriesQuery = v.strictObject({
  hours: v.optional(
    v.pipe(
      v.string(),
      v.transform(Number),
      v.integer('must be a whole number'),
      v.minValue(1, 'must be at least 1'),
      v.maxValue(KEEP_HOURS, `must be at most ${KEEP_HOURS}`),
    ),
    '24',
  ),
})

/**
 * `GET /admin/series?hours=24`: one row per UTC hour, oldest first, with the model calls, tokens and cost of
 * every instance (from promptlog) and this instance's ack latency.
 */
export async function hourlySeries(deps: { db: Db; ack: AckLatency; now?: () => Date }, query: unknown) {
  const { hours } = parseInput(SeriesQuery, query ?? {})
  const now = deps.now?.() ?? new Date()
  const first = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - (hours - 1) * 3_600_000)
  const usage = new Map((await tokensByHour(deps.db, first)).map((r) => [r.hour, r]))
  return {
    hours: Array.from({ length: hours }, (_, i) => {
      const key = hourKey(new Date(first.getTime() + i * 3_600_000))
      const u = usage.get(key)
      return {
        hour: `${key}:00:00.000Z`,
        calls: u?.calls ?? 0,
        tokens: u?.tokens ?? 0,
        cost_usd: u?.costUsd ?? 0,
        ack: deps.ack.hour(key),
      }
    }),
  }
}
