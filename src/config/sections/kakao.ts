import * as v from 'valibot'
import { hostList, int, list, optStr } from '../fields.ts'

/** `[kakao]`: the skill webhook, its callback and Kakao's limits. */
export const kakaoSection = v.optional(
  v.strictObject({
    skill_secret: optStr(),
    bot_ids: list([]),
    callback_allowed_hosts: hostList(['bot-api.kakao.com'], 'bot-api.kakao.com or *.example.com'),
    callback_ttl_ms: int(1000, 600_000, 60_000),
    /** Kakao rejects a callback that races the ack; wait this long after the request arrived. */
    callback_settle_ms: int(0, 10_000, 1000),
    /** Without a callbackUrl: how long the HTTP request waits for the answer. */
    inline_wait_ms: int(0, 4800, 3800),
    /** A turn that takes longer than this answers an apology: Kakao gives up at 5 s (network included). */
    turn_budget_ms: int(500, 4900, 4500),
    max_utterance_chars: int(1, 100_000, 1000),
    max_body_bytes: int(1024, 10_000_000, 256 * 1024),
    /**
     * Returning users remembered per instance (user + open conversation) so that their ack is one database round
     * trip; the enqueue statement checks the remembered state as it writes. 0 reads the user on every turn.
     */
    context_cache_size: int(0, 10_000_000, 5000),
  }),
  {},
)
