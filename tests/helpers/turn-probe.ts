import { join } from 'node:path'
import { definePlugin } from '../../src/pipeline/types.ts'

/**
 * A pipeline plugin for tests (`[pipeline.paths] turn-probe = PROBE_PATH`, first in the order): it records
 * the Turn exactly as the Kakao turn built it, then passes it on. Its utterance picks what it does instead:
 * - `#silent`: returns without a reply and without calling next (a pipeline that ends without a reply);
 * - `#stall`: waits until the test calls `probe.release()` (at most 5 s), then calls next.
 * The loader imports this file by its path, so the test and the plugin share this module's `probe` state.
 */
export const PROBE_PATH = join(import.meta.dir, 'turn-probe.ts')

export interface SeenTurn {
  id: string
  requestId: string | null
  receivedAt: number
  respondBy: number
  utterance: string
  callbackUrl: string | null
  clientExtra: unknown
  userId: string
  conversationId: string
  prompt: unknown
  history: unknown
  vars: unknown
  reply: unknown
  kakaoUserId: string
}

export const probe = {
  seen: [] as SeenTurn[],
  /** Set once a `#stall` turn has gone on through the rest of the pipeline (and it threw or not). */
  stallDone: false,
  release: () => {},
  released: Promise.resolve(),
  /** Arms `#stall`: the next stalled turn waits for `release()`. */
  arm(): void {
    const { promise, resolve } = Promise.withResolvers<void>()
    probe.released = promise
    probe.release = resolve
    probe.stallDone = false
  },
  /** The turns one Kakao user made, oldest first. */
  of: (kakaoUserId: string) => probe.seen.filter((t) => t.kakaoUserId === kakaoUserId),
}

export default definePlugin({
  name: 'turn-probe',
  setup: () => async (turn, next) => {
    probe.seen.push({
      id: turn.id,
      requestId: turn.requestId,
      receivedAt: turn.receivedAt.getTime(),
      respondBy: turn.respondBy.getTime(),
      utterance: turn.utterance,
      callbackUrl: turn.callbackUrl,
      clientExtra: structuredClone(turn.clientExtra),
      userId: turn.user.id,
      conversationId: turn.conversation.id,
      prompt: turn.prompt,
      history: structuredClone(turn.history),
      vars: structuredClone(turn.vars),
      reply: turn.reply,
      kakaoUserId: turn.payload.userRequest.user.id,
    })
    if (turn.utterance === '#silent') return
    if (turn.utterance === '#stall') {
      await Promise.race([probe.released, Bun.sleep(5000)])
      try {
        await next()
      } finally {
        probe.stallDone = true
      }
      return
    }
    await next()
  },
})
