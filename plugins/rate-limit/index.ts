import * as v from 'valibot'
import { textResponse } from '../../src/kakao/response.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { logEvent } from '../../src/store/events.ts'

/**
 * Per-user rate limit of model-bound messages. Every request comes from Kakao's servers, so the key is the Kakao
 * user (their appuser row), never the IP. A token bucket per user in the database holds across instances:
 * `burst` messages at once, refilled at `per_minute`. A limited message gets a polite reply and no model call, and
 * an `eventlog` row `rate_limited`.
 *
 * It sits after late-answer, crisis-guard and name-command on purpose: a person in crisis, a "답변 확인" and a name
 * change are never refused. Only turns that reach ai-dispatch take a token: the bucket's upsert is part of
 * ai-dispatch's one enqueue statement (`turn.rateLimit`), and an empty bucket queues nothing and comes back
 * here as `turn.rateLimited`.
 */
export default definePlugin({
  name: 'rate-limit',
  options: v.strictObject({
    per_minute: v.optional(v.pipe(v.number(), v.minValue(0.1), v.maxValue(10_000)), 20),
    burst: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)), 10),
  }),
  setup(deps, options) {
    const bucket = { perMinute: options.per_minute, burst: options.burst }
    return async (turn, next) => {
      // The token is taken by ai-dispatch's enqueue statement, so a turn costs no write of its own here.
      turn.rateLimit = bucket
      await next()
      if (!turn.rateLimited) return
      turn.log.info('rate limited: answered without a model call')
      await logEvent(deps.db, 'rate_limited', turn.user.id, bucket)
      deps.metrics?.rateLimited()
      turn.reply = textResponse(deps.messages.rate_limited)
    }
  },
})
