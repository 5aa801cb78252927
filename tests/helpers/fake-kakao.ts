import { validateSkillResponse } from '../../src/kakao/response.ts'

/**
 * Kakao's callback receiver, faked as a real HTTP server on 127.0.0.1: each callbackUrl works once and only
 * within its lifetime, the body must be a valid SkillResponse, and the reply has Kakao's shape
 * `{taskId, status: SUCCESS|FAIL, message, timestamp}`.
 */
export interface Arrival {
  token: string
  at: number
  body: Record<string, unknown>
  status: 'SUCCESS' | 'FAIL'
  message: string
}

export interface FakeKakao {
  /** Base for CALLBACK_ALLOWED_HOSTS, e.g. http://127.0.0.1:1234 */
  origin: string
  arrivals: Arrival[]
  /** A fresh single-use callbackUrl valid for `ttlMs`. */
  callbackUrl(ttlMs?: number): string
  /** Every POST is answered FAIL (as when Kakao refuses the token). */
  failAll(on: boolean, httpStatus?: number): void
  /** Arrivals for one callbackUrl. */
  arrivalsFor(url: string): Arrival[]
  close(): void
}

export function startFakeKakao(): FakeKakao {
  const tokens = new Map<string, { expiresAt: number; used: boolean }>()
  const arrivals: Arrival[] = []
  let failing: { on: boolean; httpStatus: number } = { on: false, httpStatus: 200 }

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const match = /^\/v1\/bots\/[^/]+\/callback\/(.+)$/.exec(new URL(req.url).pathname)
      if (req.method !== 'POST' || !match) return new Response('not found', { status: 404 })
      const token = decodeURIComponent(match[1]!)
      let body: Record<string, unknown> = {}
      try {
        body = (await req.json()) as Record<string, unknown>
      } catch {
        body = {}
      }
      const entry = tokens.get(token)
      let message = 'OK'
      if (failing.on) message = 'Invalid callback token. Check your callback token.'
      else if (!entry || entry.used || Date.now() > entry.expiresAt)
        message = 'Invalid callback token. Check your callback token.'
      else if (validateSkillResponse(body).length > 0) message = 'Invalid json response from bot-skill.'
      if (entry) entry.used = true
      const status = message === 'OK' ? 'SUCCESS' : 'FAIL'
      arrivals.push({ token, at: Date.now(), body, status, message })
      return Response.json(
        { taskId: crypto.randomUUID(), status, message, timestamp: Math.floor(Date.now() / 1000) },
        { status: status === 'FAIL' ? failing.httpStatus : 200 },
      )
    },
  })
  const origin = `http://127.0.0.1:${server.port}`
  return {
    origin,
    arrivals,
    callbackUrl(ttlMs = 60_000) {
      const token = `cbtoken:${crypto.randomUUID().replace(/-/g, '')}`
      tokens.set(token, { expiresAt: Date.now() + ttlMs, used: false })
      return `${origin}/v1/bots/testbot/callback/${token}`
    },
    failAll(on, httpStatus = 200) {
      failing = { on, httpStatus }
    },
    arrivalsFor(url) {
      const token = decodeURIComponent(url.split('/callback/')[1]!)
      return arrivals.filter((a) => a.token === token)
    },
    close: () => server.stop(true),
  }
}
