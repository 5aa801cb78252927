import * as v from 'valibot'
import { num } from '../fields.ts'

export const CURRENCIES = ['USD', 'KRW'] as const
export type Currency = (typeof CURRENCIES)[number]

/** `[usage]`: how `kbot usage` and `GET /admin/usage` show costs (they are always stored in USD). */
export const usageSection = v.optional(
  v.strictObject({
    currency: v.optional(v.picklist(CURRENCIES, `must be one of ${CURRENCIES.join(', ')}`), 'USD'),
    /** Won per dollar for the KRW display; update it now and then. */
    krw_per_usd: num(1, 100_000, 1400),
  }),
  {},
)
