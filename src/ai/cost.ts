/**
 * USD per million tokens (input, output), by model-name prefix. Operators override or extend it with
 * `[openai] prices`; the longest matching prefix wins, so "gpt-4o-mini" is not priced as "gpt-4o".
 * Figures are OpenAI's list prices at the time of writing.
 */
export const DEFAULT_PRICES: Readonly<Record<string, readonly [number, number]>> = {
  'gpt-4o': [2.5, 10],
  'gpt-4o-mini': [0.15, 0.6],
  'gpt-4.1': [2, 8],
  'gpt-4.1-mini': [0.4, 1.6],
  'gpt-4.1-nano': [0.1, 0.4],
}

export function costOf(
  overrides: Readonly<Record<string, readonly [number, number]>>,
  model: string,
  promptTokens: number | null | undefined,
  completionTokens: number | null | undefined,
): number | null {
  if (promptTokens == null || completionTokens == null) return null
  const prices = { ...DEFAULT_PRICES, ...overrides }
  const prefix = Object.keys(prices)
    .filter((p) => model.startsWith(p))
    .sort((a, b) => b.length - a.length)[0]
  if (!prefix) return null
  const [input, output] = prices[prefix]!
  return (promptTokens * input + completionTokens * output) / 1_000_000
}
