import * as v from 'valibot'
import type { Currency } from '../config/sections/usage.ts'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { USAGE_GROUPS, type UsageGroup, type UsageRow, usageTotals } from '../store/usage.ts'

const DAY_MS = 86_400_000

/** A date (YYYY-MM-DD, UTC midnight) or a full ISO timestamp. */
const when = (name: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(
        (s) =>
          /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)),
        `${name} must be a date such as 2026-12-01 or an ISO time such as 2026-12-01T09:00:00Z`,
      ),
    ),
  )

/** What both surfaces accept (CLI options and the query string of GET /admin/usage). */
export const UsageQuery = v.strictObject({
  from: when('from'),
  to: when('to'),
  by: v.optional(v.picklist(USAGE_GROUPS, `by must be one of ${USAGE_GROUPS.join(', ')}`), 'day'),
})
export type UsageQueryInput = v.InferInput<typeof UsageQuery>

export interface UsageReport {
  by: UsageGroup
  from: string
  to: string
  currency: Currency
  /** Won per dollar used for `cost` (1 for USD). */
  rate: number
  rows: (UsageRow & { cost: number })[]
  total: Omit<UsageRow, 'key' | 'label'> & { cost: number }
}

const parseWhen = (s: string, endOfDay: boolean) => {
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s)
  // A bare --to date includes that whole day.
  return endOfDay && /^\d{4}-\d{2}-\d{2}$/.test(s) ? new Date(d.getTime() + DAY_MS) : d
}

/**
 * Usage and cost grouped by day, user, prompt or model over [from, to): `kbot usage` and `GET /admin/usage`.
 * Defaults: the last 30 days. Costs are stored in USD and shown in `[usage] currency`.
 *
 * @example
 *   const report = await usageReport(db, config, { by: 'model', from: '2026-11-01' })
 */
export async function usageReport(
  db: Db,
  config: Config,
  input: unknown,
  now = new Date(),
): Promise<UsageReport> {
  const parsed = v.safeParse(UsageQuery, input)
  if (!parsed.success) {
    const message = parsed.issues
      .map((i) => (i.expected === 'never' ? `unknown option ${v.getDotPath(i)}` : i.message))
      .join('; ')
    throw new AppError('BAD_REQUEST', message)
  }
  const q = parsed.output
  const to = q.to ? parseWhen(q.to, true) : now
  const from = q.from ? parseWhen(q.from, false) : new Date(to.getTime() - 30 * DAY_MS)
  if (from >= to)
    throw new AppError('BAD_REQUEST', `from (${from.toISOString()}) must be before to (${to.toISOString()})`)
  const currency = config.usage.currency
  const rate = currency === 'KRW' ? config.usage.krw_per_usd : 1
  // KRW has no minor unit in practice; USD keeps enough digits for sub-cent calls.
  const convert = (usd: number) => (currency === 'KRW' ? Math.round(usd * rate * 100) / 100 : usd)
  const rows = (await usageTotals(db, q.by, { from, to })).map((r) => ({ ...r, cost: convert(r.costUsd) }))
  const sum = (f: (r: UsageRow) => number) => rows.reduce((n, r) => n + f(r), 0)
  const totalUsd = sum((r) => r.costUsd)
  return {
    by: q.by,
    from: from.toISOString(),
    to: to.toISOString(),
    currency,
    rate,
    rows,
    total: {
      calls: sum((r) => r.calls),
      promptTokens: sum((r) => r.promptTokens),
      cachedTokens: sum((r) => r.cachedTokens),
      completionTokens: sum((r) => r.completionTokens),
      costUsd: totalUsd,
      cost: convert(totalUsd),
    },
  }
}

/** A cost for people: "$0.0123" or "₩17". */
export function formatCost(amount: number, currency: Currency): string {
  return currency === 'KRW'
    ? `₩${Math.round(amount).toLocaleString('en-US')}`
    : `$${amount < 1 ? amount.toFixed(4) : amount.toFixed(2)}`
}
