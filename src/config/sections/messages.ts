import * as v from 'valibot'
import { DEFAULT_MESSAGES, type Messages } from '../../texts.ts'
import { str } from '../fields.ts'

/** `[messages]`: every sentence a Kakao user can see; each defaults to natural, polite Korean. */
export const messagesSection = v.optional(
  v.strictObject(
    Object.fromEntries(Object.entries(DEFAULT_MESSAGES).map(([k, d]) => [k, str(d)])) as {
      [K in keyof Messages]: ReturnType<typeof str>
    },
  ),
  {},
)
