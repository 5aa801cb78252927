import * as v from 'valibot'
import { int, num, optStr, str } from '../fields.ts'

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
    /** USD per million tokens, by model prefix: `{ "gpt-4o" = [2.5, 10] }` (input, output). */
    prices: v.optional(v.record(v.string(), v.tuple([v.number(), v.number()])), {}),
  }),
  {},
)
