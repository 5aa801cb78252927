import type { Arrival, FakeKakao } from '../tests/helpers/fake-kakao.ts'
import type { FakeOpenAI } from '../tests/helpers/fake-openai.ts'
import { kakaoPayload } from '../tests/helpers/kakao.ts'

/** One Kakao turn the bench sent: its tag (also X-Request-Id and in the utterance), when, and its callback token. */
export interface SentTurn {
  tag: string
  /** Epoch ms (Date.now(), the clock kbot and PostgreSQL use) just before the request left. */
  sentAt: number
  /** Epoch ms when the ack had been read (after kbot committed the task); null when no ack came. */
  ackedAt: number | null
  token: string
}

export interface TurnSender {
  /** POSTs one real Kakao payload with a fresh callbackUrl to `/skill`; true when the useCallback ack came back. */
  send(baseUrl: string, tag: string): Promise<boolean>
  sent: Map<string, SentTurn>
}

const UTTERANCE = '@@UTTERANCE@@'
const USER = '@@USER@@'
const CALLBACK = '@@CALLBACK@@'
const TAG_IN_UTTERANCE = /\((chp-bench-[a-z0-9-]+)\)$/

/**
 * Sends turns as Kakao does: the 2020 capture's payload shape, X-Request-Id, a callbackUrl on the fake receiver.
 * Users rotate through a fixed pool, so every request is a returning user whose history stays short. The
 * payload is rendered once and filled in by string replacement to keep the load generator light.
 * `prefix` names the users (`<prefix>-N`); with `newEvery`, every n-th request comes from a user never seen before.
 */
export function createTurnSender(
  kakao: FakeKakao,
  userPool: number,
  opts: { prefix?: string; newEvery?: number } = {},
): TurnSender {
  const prefix = opts.prefix ?? 'bench-user'
  const template = JSON.stringify(kakaoPayload({ utterance: UTTERANCE, userId: USER, callbackUrl: CALLBACK }))
  const sent = new Map<string, SentTurn>()
  let nextUser = 0
  let sentCount = 0
  return {
    sent,
    async send(baseUrl, tag) {
      const callbackUrl = kakao.callbackUrl()
      const userId =
        opts.newEvery && ++sentCount % opts.newEvery === 0
          ? `${prefix}-new-${tag}`
          : `${prefix}-${nextUser++ % userPool}`
      const body = template
        .replaceAll(USER, userId)
        .replace(UTTERANCE, `배송은 보통 며칠 걸리나요? (${tag})`)
        .replace(CALLBACK, callbackUrl)
      const turn: SentTurn = { tag, sentAt: Date.now(), ackedAt: null, token: tokenOf(callbackUrl) }
      sent.set(tag, turn)
      try {
        const res = await fetch(`${baseUrl}/skill`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': tag },
          body,
        })
        const text = await res.text()
        const ok = res.status === 200 && text.includes('"useCallback":true')
        if (ok) turn.ackedAt = Date.now()
        return ok
      } catch {
        return false
      }
    },
  }
}

const tokenOf = (callbackUrl: string) => decodeURIComponent(callbackUrl.split('/callback/')[1]!)

export interface LoadResult {
  /** Per request, ms: from its scheduled send time (open loop) or its send (closed loop) to the full reply. */
  latencies: number[]
  ok: number
  errors: number
  elapsedMs: number
  /** Open loop only: the worst delay of a send behind its schedule (the load generator falling behind). */
  maxLagMs: number
}

/**
 * Open loop: request i leaves at start + i/rate whatever the replies, and its latency counts from that
 * scheduled moment, so a stalled server is charged for the queue it causes (no coordinated omission).
 */
export async function openLoop(opts: {
  rate: number
  count: number
  fire: (i: number) => Promise<boolean>
}): Promise<LoadResult> {
  const latencies: number[] = new Array(opts.count)
  let ok = 0
  let errors = 0
  let maxLagMs = 0
  const interval = 1000 / opts.rate
  const start = performance.now() + 5
  const inflight: Promise<void>[] = []
  for (let i = 0; i < opts.count; i++) {
    const due = start + i * interval
    const wait = due - performance.now()
    if (wait >= 1) await Bun.sleep(wait)
    maxLagMs = Math.max(maxLagMs, performance.now() - due)
    inflight.push(
      opts.fire(i).then((good) => {
        latencies[i] = performance.now() - due
        if (good) ok++
        else errors++
      }),
    )
  }
  await Promise.all(inflight)
  return { latencies, ok, errors, elapsedMs: performance.now() - start, maxLagMs }
}

/** Closed loop: `concurrency` senders, each sending its next request as soon as the last reply is read. */
export async function closedLoop(opts: {
  concurrency: number
  durationMs: number
  fire: (i: number) => Promise<boolean>
}): Promise<LoadResult> {
  const latencies: number[] = []
  let ok = 0
  let errors = 0
  let next = 0
  const start = performance.now()
  const end = start + opts.durationMs
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const good = await opts.fire(next++)
        latencies.push(performance.now() - t0)
        if (good) ok++
        else errors++
      }
    }),
  )
  return { latencies, ok, errors, elapsedMs: performance.now() - start, maxLagMs: 0 }
}

/** Polls `check` until it is true; throws after `timeoutMs` naming what it waited for. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(20)
  }
}

/** The first callback POST of each sent turn (by its single-use token). */
export function callbacksOf(kakao: FakeKakao, turns: readonly SentTurn[]): Map<string, Arrival> {
  const byToken = new Map(turns.map((t) => [t.token, t.tag]))
  const found = new Map<string, Arrival>()
  for (const arrival of kakao.arrivals) {
    const tag = byToken.get(arrival.token)
    if (tag && !found.has(tag)) found.set(tag, arrival)
  }
  return found
}

/** Epoch ms at which the fake model first received each turn (found by the tag in the last message). */
export function modelCallsOf(model: FakeOpenAI, tags: ReadonlySet<string>): Map<string, number> {
  const found = new Map<string, number>()
  for (const req of model.requests) {
    const last = req.body.messages[req.body.messages.length - 1]?.content ?? ''
    const tag = TAG_IN_UTTERANCE.exec(last)?.[1]
    if (tag && tags.has(tag) && !found.has(tag)) found.set(tag, req.at)
  }
  return found
}
