import type { Logger } from '../logger.ts'

/** USD per million tokens. `cached_input` is the price of prompt tokens served from OpenAI's prompt cache. */
export interface Price {
  readonly input: number
  readonly cached_input: number
  readonly output: number
}

export type PriceTable = Readonly<Record<string, Price>>

/**
 * OpenAI's published list prices (USD per 1M tokens) by model-name prefix. Operators override or extend it
 * with `[openai.prices]`; the longest matching prefix wins, so "gpt-4o-mini" is not priced as "gpt-4o".
 */
export const DEFAULT_PRICES: PriceTable = {
  'gpt-4o': { input: 2.5, cached_input: 1.25, output: 10 },
  'gpt-4o-mini': { input: 0.15, cached_input: 0.075, output: 0.6 },
  'gpt-4.1': { input: 2, cached_input: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cached_input: 0.1, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, cached_input: 0.025, output: 0.4 },
}

/** Token counts as the API reports them; `cachedTokens` is the part of `promptTokens` read from the cache. */
export interface TokenUsage {
  promptTokens: number | null | undefined
  completionTokens: number | null | undefined
  cachedTokens?: number | null | undefined
}

/** The price of a model (longest prefix of the merged table), or null when no prefix matches. */
export function priceOf(overrides: PriceTable, model: string): Price | null {
  const prices = { ...DEFAULT_PRICES, ...overrides }
  const prefix = Object.keys(prices)
    .filter((p) => model.startsWith(p))
    .sort((a, b) => b.length - a.length)[0]
  return prefix ? prices[prefix]! : null
}

/**
 * USD for one call: uncached prompt tokens at `input`, cached ones at `cached_input`, completion at `output`.
 * Null when the API reported no usage (unknown, not free); an unpriced model costs 0.
 */
export function costOf(overrides: PriceTable, model: string, usage: TokenUsage): number | null {
  const { promptTokens, completionTokens } = usage
  if (promptTokens == null || completionTokens == null) return null
  const price = priceOf(overrides, model)
  if (!price) return 0
  const cached = Math.min(Math.max(0, usage.cachedTokens ?? 0), promptTokens)
  return (
    ((promptTokens - cached) * price.input + cached * price.cached_input + completionTokens * price.output) /
    1_000_000
  )
}

export type CostFn = (model: string, usage: TokenUsage) => number | null

/**
 * `costOf` with the configured table, warning once per model that has no price (its calls are recorded at
 * 0 USD, so a total that looks too low has a reason in the log).
 */
export function createCostCalculator(deps: { prices: PriceTable; log: Logger }): CostFn {
  const warned = new Set<string>()
  return (model, usage) => {
    if (!warned.has(model) && priceOf(deps.prices, model) === null) {
      warned.add(model)
      deps.log.warn(
        { model },
        'no price for this model in [openai.prices]: its calls are counted at 0 USD; add a price to fix the totals',
      )
    }
    return costOf(deps.prices, model, usage)
  }
}
