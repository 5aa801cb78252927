import * as v from 'valibot'
import { bool, int, str } from '../fields.ts'
import { cronExpression } from './retention.ts'

/** `[memory]`: the long-term summary of each user, written by a periodic job with a cheaper model. */
export const memorySection = v.optional(
  v.strictObject({
    enabled: bool(true),
    /** When the job looks for idle conversations (cron); it runs once per schedule across instances. */
    schedule: cronExpression('*/10 * * * *'),
    /** The model of summary calls (the `summary` prompt version may override it). */
    model: str('gpt-4o-mini'),
    max_tokens: int(50, 4000, 500),
    /** A conversation is summarised once it has at least this many messages not yet in the summary. */
    min_new_messages: int(1, 1000, 2),
    /** Only conversations active within this many days are looked at (bounds the job's scan). */
    lookback_days: int(1, 365, 7),
    /** At most this many new messages go into one summary call; the rest go into the next one. */
    max_messages: int(2, 2000, 200),
  }),
  {},
)
