import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { AppError } from '../../src/errors.ts'
import { createLogger } from '../../src/logger.ts'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

const SKILL_SECRET = 'skill-secret-7f3a9c'
const ADMIN = 'admin-token-5e1d88'
const API_KEY = 'sk-proj-abcdef1234567890'
const USER_TEXT = '비밀스러운-사용자-문장'

const memory = () => {
  const lines: string[] = []
  return { lines, write: (line: string) => void lines.push(line) }
}

/** SPEC §11: secrets, auth headers and callback tokens never reach a log line; user text only at debug. */
describe('log scrubbing (no server)', () => {
  const tokenUrl = 'https://bot-api.kakao.com/v1/bots/abc/callback/CBTOKEN-123456?x=1&token=QTOKEN-999'
  const emit = (level: 'info' | 'debug') => {
    const out = memory()
    const log = createLogger({ level, destination: out, secrets: [ADMIN, SKILL_SECRET, API_KEY] })
    const child = log.child({ reqId: 'r1' })
    child.info(
      {
        headers: { authorization: `Bearer ${ADMIN}`, 'x-kbot-skill-secret': SKILL_SECRET },
        callbackUrl: tokenUrl,
      },
      'request',
    )
    child.warn({ url: tokenUrl, note: `posted to ${tokenUrl}` }, 'callback rejected')
    child.error(
      { err: new AppError('AI_UPSTREAM', `401 Incorrect API key provided: ${API_KEY}`) },
      'task failed',
    )
    child.error(new Error(`connect failed for ${tokenUrl} with Bearer ${ADMIN}`), 'delivery failed')
    child.info('skill secret is %s', SKILL_SECRET)
    // User text logged above debug level is hidden; at debug it is the point of the line.
    child.info({ utterance: USER_TEXT, messages: [{ role: 'user', content: USER_TEXT }] }, 'turn')
    child.debug({ utterance: USER_TEXT }, 'turn detail')
    return out.lines
  }

  for (const level of ['info', 'debug'] as const) {
    test(`at ${level}: no secret, header or callback token in any line`, () => {
      const lines = emit(level)
      expect(lines).toHaveLength(level === 'debug' ? 7 : 6)
      expect(JSON.parse(lines[5]!).utterance).toBe('[redacted]')
      const all = lines.join('\n')
      for (const secret of [SKILL_SECRET, ADMIN, API_KEY, 'CBTOKEN-123456', 'QTOKEN-999'])
        expect(all).not.toContain(secret)
      // What is kept stays useful: the host, the error code, the request id.
      expect(all).toContain('bot-api.kakao.com/v1/bots/abc/callback/[redacted]')
      expect(all).toContain('AI_UPSTREAM')
      expect(lines.every((l) => JSON.parse(l).reqId === 'r1')).toBe(true)
      if (level === 'debug') expect(all).toContain(USER_TEXT)
      else expect(all).not.toContain(USER_TEXT)
    })
  }
})

for (const dialect of await testDialects()) {
  describe(`log lines of a real turn (${dialect})`, () => {
    let model: FakeOpenAI
    let kakao: FakeKakao
    const started: TestKbot[] = []

    beforeAll(() => {
      model = startFakeOpenAI({ content: '답변' })
      kakao = startFakeKakao()
    })
    afterAll(async () => {
      await Promise.all(started.map((k) => k.stop()))
      model.close()
      kakao.close()
    })

    for (const level of ['info', 'debug'] as const) {
      test(`at ${level}: secret header, Authorization and callbackUrl token appear in no line`, async () => {
        const out = memory()
        const k = await startTestKbot({
          dialect: dialect as Dialect,
          label: `logs-${level}-${dialect}`,
          env: {
            OPENAI_BASE_URL: model.url,
            OPENAI_API_KEY: API_KEY,
            CALLBACK_ALLOWED_HOSTS: kakao.origin,
            KAKAO_SKILL_SECRET: SKILL_SECRET,
            ADMIN_TOKEN: ADMIN,
          },
          logLevel: level,
          logDestination: out,
        })
        started.push(k)
        const url = kakao.callbackUrl()
        const token = url.split('/callback/')[1]!
        const headers = { 'x-kbot-skill-secret': SKILL_SECRET, authorization: `Bearer ${ADMIN}` }
        const payload = kakaoPayload({ utterance: USER_TEXT, callbackUrl: url })
        const ack = await k.post('/skill', payload, headers)
        expect(ack.json.useCallback).toBe(true)
        await waitFor(() => kakao.arrivalsFor(url).length === 1, { what: 'the callback' })
        // The same request again: logged at info as a duplicate delivery.
        await k.post('/skill', payload, headers)
        await waitFor(() => out.lines.some((l) => l.includes('duplicate delivery')), {
          what: 'the duplicate line',
        })

        if (level === 'debug')
          await waitFor(() => out.lines.some((l) => l.includes('callback sent')), { what: 'callback sent' })
        const all = out.lines.join('\n')
        expect(out.lines.length).toBeGreaterThan(0)
        for (const secret of [SKILL_SECRET, ADMIN, API_KEY, token]) expect(all).not.toContain(secret)
        const parsed = out.lines.map((l) => JSON.parse(l))
        expect(parsed.find((l) => l.msg.includes('duplicate delivery'))?.reqId).toBeString()
        if (level === 'debug') {
          expect(all).toContain(USER_TEXT)
          // The request itself was logged, headers and callbackUrl included, masked.
          const request = parsed.find((l) => l.msg === 'skill request')
          expect(request.headers['x-kbot-skill-secret']).toBe('[redacted]')
          expect(request.headers.authorization).toBe('[redacted]')
          expect(request.callbackUrl).toBe('[redacted]')
          expect(parsed.find((l) => l.msg === 'task queued')?.plugin).toBe('ai-dispatch')
          expect(parsed.find((l) => l.msg === 'callback sent')?.taskId).toBeString()
        } else expect(all).not.toContain(USER_TEXT)
      })
    }
  })
}
