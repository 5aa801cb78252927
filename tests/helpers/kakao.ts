import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** tests/fixtures/kakao (copied from Kakao's docs and public captures, see SOURCES.md): real request payloads and headers, byte for byte. */
export const FIXTURES_DIR = join(import.meta.dir, '..', 'fixtures', 'kakao')

export function fixtureNames(prefix: 'req-' | 'resp-' | 'hdr-'): string[] {
  return readdirSync(FIXTURES_DIR).filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
}

export const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(FIXTURES_DIR, name), 'utf8'))

/** A realistic payload (shaped like the 2020 capture, req-04) for one utterance of one user. */
export function kakaoPayload(opts: {
  utterance: string
  userId?: string
  callbackUrl?: string | null
  botId?: string
}) {
  const base = fixture('req-04-real-fallback-with-callbackUrl.json') as {
    bot: { id: string }
    userRequest: Record<string, unknown> & { user: { id: string; properties: Record<string, unknown> } }
  }
  const userId = opts.userId ?? `user-${crypto.randomUUID()}`
  base.bot.id = opts.botId ?? base.bot.id
  base.userRequest.utterance = opts.utterance
  base.userRequest.user.id = userId
  base.userRequest.user.properties.botUserKey = userId
  base.userRequest.user.properties.bot_user_key = userId
  if (opts.callbackUrl) base.userRequest.callbackUrl = opts.callbackUrl
  else delete base.userRequest.callbackUrl
  return base
}
