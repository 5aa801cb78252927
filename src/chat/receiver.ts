import { randomUUID } from 'node:crypto'
import { type SkillResponse, validateSkillResponse } from '../kakao/response.ts'

/**
 * A local stand-in for Kakao's callback endpoint on 127.0.0.1: each URL works once, like Kakao's, and is
 * answered in Kakao's shape `{taskId, status, message, timestamp}`. `kbot chat` waits on it for the answer.
 */
export interface CallbackReceiver {
  /** For CALLBACK_ALLOWED_HOSTS, e.g. http://127.0.0.1:40123 */
  origin: string
  /** A fresh single-use callbackUrl. */
  next(): string
  /** The SkillResponse POSTed to `url`, or null when none came within `timeoutMs` (the URL is then spent). */
  wait(url: string, timeoutMs: number): Promise<SkillResponse | null>
  /** Spends a URL kbot did not use (it answered inline). */
  discard(url: string): void
  close(): void
}

interface Slot {
  used: boolean
  /** A POST arrived (valid or not); `body` is the valid SkillResponse, else null. */
  settled: boolean
  body: SkillResponse | null
  resolve: ((body: SkillResponse | null) => void) | null
}

export function startCallbackReceiver(): CallbackReceiver {
  const slots = new Map<string, Slot>()
  const waiting = new Set<Slot>()
  const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1)
  const answer = (status: 'SUCCESS' | 'FAIL', message: string) =>
    Response.json({ taskId: randomUUID(), status, message, timestamp: Math.floor(Date.now() / 1000) })

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const match = /^\/v1\/bots\/[^/]+\/callback\/([A-Za-z0-9_-]+)$/.exec(new URL(req.url).pathname)
      if (req.method !== 'POST' || !match) return new Response('not found', { status: 404 })
      const slot = slots.get(match[1]!)
      if (!slot || slot.used) return answer('FAIL', 'Invalid callback token. Check your callback token.')
      slot.used = true
      let body: unknown = null
      try {
        body = await req.json()
      } catch {
        // judged below as an invalid response
      }
      slot.settled = true
      if (validateSkillResponse(body).length > 0) {
        slot.resolve?.(null)
        return answer('FAIL', 'Invalid json response from bot-skill.')
      }
      slot.body = body as SkillResponse
      slot.resolve?.(slot.body)
      return answer('SUCCESS', 'OK')
    },
  })
  const origin = `http://127.0.0.1:${server.port}`

  return {
    origin,
    next() {
      const token = randomUUID().replaceAll('-', '')
      slots.set(token, { used: false, settled: false, body: null, resolve: null })
      return `${origin}/v1/bots/kbot-chat/callback/${token}`
    },
    wait(url, timeoutMs) {
      const slot = slots.get(tokenOf(url))
      if (!slot) return Promise.resolve(null)
      if (slot.settled) return Promise.resolve(slot.body)
      return new Promise((resolve) => {
        const timer = setTimeout(() => slot.resolve?.(null), timeoutMs)
        waiting.add(slot)
        slot.resolve = (body) => {
          // Kakao's URL expires too: a late POST must be refused, not shown after the next question.
          slot.used = true
          slot.resolve = null
          waiting.delete(slot)
          clearTimeout(timer)
          resolve(body)
        }
      })
    },
    discard(url) {
      const slot = slots.get(tokenOf(url))
      if (slot) slot.used = true
    },
    close() {
      for (const slot of [...waiting]) slot.resolve?.(null)
      server.stop(true)
    },
  }
}
