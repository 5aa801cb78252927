import * as v from 'valibot'
import type { Price } from '../../ai/cost.ts'
import { int, num, optStr, str } from '../fields.ts'

const usd = v.pipe(v.number('must be USD per 1M tokens'), v.minValue(0, 'must not be negative'))

const priceSchema = v.union(
  [
    v.pipe(
      v.strictObject({ input: usd, cached_input: v.optional(usd), output: usd }),
      v.transform(
        (p): Price => ({ input: p.input, cached_input: p.cached_input ?? p.input, output: p.output }),
      ),
    ),
    v.pipe(
      v.tuple([usd, usd]),
      v.transform(([input, output]): Price => ({ input, cached_input: input, output })),
    ),
  ],
  'must be { input = …, cached_input = …, output = … } (USD per 1M tokens) or [input, output]',
)

/** `[openai]`: the model behind the official SDK (OPENAI_* environment variables). */
export const openaiSection = v.optional(
  v.strictObject({
    api_key: optStr(),
    base_url: v.optional(
      v.pipe(v.string(), v.trim(), v.url('must be a URL such as https://api.openai.com/v1')),
    ),
    model: str('gpt-4o'),
    temperature: num(0, 2, 0.2),
    max_tokens: int(1, 200_000, 1000),
    timeout_ms: int(100, 600_000, 30_000),
    /**
     * USD per million tokens, by model prefix: `"gpt-4o" = { input = 2.5, cached_input = 1.25, output = 10 }`.
     * The older `[input, output]` pair is still read (cached input then costs the full input price).
     */
    prices: v.optional(v.record(v.string(), priceSchema), {}),
  }),
  {},
)
