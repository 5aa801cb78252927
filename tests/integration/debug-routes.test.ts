import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { silentLogger } from '../../src/logger.ts'
import { type RunningServer, startServer } from '../../src/server.ts'
import { tempDir } from '../helpers/cleanup.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { waitFor } from '../helpers/wait.ts'

/** DEBUG mode on a real listening server: /test-skill runs a turn whose callback lands on /test-callback. */
describe('DEBUG routes (listening server, SQLite)', () => {
  let model: FakeOpenAI
  let server: RunningServer
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: res.status, json: (await res.json()) as any }
  }

  beforeAll(async () => {
    model = startFakeOpenAI({ content: '디버그 답변입니다.' })
    const dir = tempDir('debug')
    const config = loadConfig({
      cwd: dir,
      env: {
        DEBUG: 'true',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'kbot.db')}`,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: model.url,
      },
    })
    server = await startServer(config, { log: silentLogger() })
  })
  afterAll(async () => {
    await server.stop()
    model.close()
  })

  test('/test-skill without callback answers inline and returns the task id', async () => {
    const res = await post('/test-skill', { utterance: '안녕하세요', user_id: 'debugger' })
    expect(res.status).toBe(200)
    expect(res.json.reply.template.outputs[0].simpleText.text).toBe('디버그 답변입니다.')
    const status = await fetch(`${server.url}/user/ai-status/${res.json.task_id}`).then((r) => r.json())
    expect(status).toMatchObject({ status: 'completed', callback_status: 'inline' })
  })

  test('/test-skill with callback: ack, then the answer arrives at /test-callback as a valid SkillResponse', async () => {
    const res = await post('/test-skill', { utterance: '콜백으로 답해 주세요', callback: true })
    expect(res.json.reply).toEqual({
      version: '2.0',
      useCallback: true,
      data: { text: 'AI가 답변을 생성하고 있어요!' },
    })
    const arrivals = await waitFor(async () => {
      const list = (await fetch(`${server.url}/test-callback`).then((r) => r.json())) as { arrivals: any[] }
      return list.arrivals.length > 0 ? list.arrivals : null
    })
    expect(arrivals[0]).toMatchObject({ valid: true, problems: [] })
    expect(arrivals[0].body.template.outputs[0].simpleText.text).toBe('디버그 답변입니다.')
    const status = await fetch(`${server.url}/user/ai-status/${res.json.task_id}`).then((r) => r.json())
    expect(status).toMatchObject({ status: 'completed', callback_status: 'sent' })
  })

  test('/test-callback answers like Kakao: one use per token, invalid bodies FAIL', async () => {
    const body = { version: '2.0', template: { outputs: [{ simpleText: { text: '확인' } }] } }
    const first = await post('/test-callback/tok-1', body)
    const second = await post('/test-callback/tok-1', body)
    const invalid = await post('/test-callback/tok-2', { version: '1.0' })
    expect(first.json.status).toBe('SUCCESS')
    expect(second.json).toMatchObject({
      status: 'FAIL',
      message: 'Invalid callback token. Check your callback token.',
    })
    expect(invalid.json).toMatchObject({ status: 'FAIL', message: 'Invalid json response from bot-skill.' })
  })

  test('/test-name-extraction explains a name, a refusal and an invalid name', async () => {
    expect((await post('/test-name-extraction', { text: '길동이라고 불러줘' })).json).toMatchObject({
      name: '길동',
      valid: true,
      reason: null,
    })
    const student = (await post('/test-name-extraction', { text: '난 학생이야' })).json
    expect(student.name).toBeNull()
    expect(typeof student.reason).toBe('string')
    const long = (await post('/test-name-extraction', { text: `내 이름은 ${'가'.repeat(21)}야` })).json
    expect(long.valid).toBe(false)
    expect((await post('/test-name-extraction', { nope: 1 })).status).toBe(400)
  })

  test('/test-skill refuses a body without an utterance', async () => {
    const res = await post('/test-skill', { user_id: 'x' })
    expect(res.status).toBe(400)
    expect(res.json.error.code).toBe('BAD_REQUEST')
  })

  test('/test-callback with a null output: FAIL with the problem, not a 500', async () => {
    const res = await post('/test-callback/tok-null', { version: '2.0', template: { outputs: [null] } })
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ status: 'FAIL', message: 'Invalid json response from bot-skill.' })
  })

  test('a callbackUrl that leaves /test-callback ("/test-callback/../skill") is not trusted', async () => {
    const { kakaoPayload } = await import('../helpers/kakao.ts')
    const callbackUrl = `${server.url}/test-callback/../skill`
    const res = await post('/skill', kakaoPayload({ utterance: '자기 자신에게 콜백', callbackUrl }))
    expect(res.status).toBe(200)
    expect(res.json.useCallback).toBeUndefined()
    const rows = await server.kbot.store.db.query('select id from aiprocessingtask where callback_url = $1', [
      callbackUrl,
    ])
    expect(rows.length).toBe(0)
  })

  test('a body over the server limit gets the JSON 413, unread, on a listening server', async () => {
    const res = await fetch(`${server.url}/skill`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(2 * 1024 * 1024),
    })
    expect(res.status).toBe(413)
    expect(((await res.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE')
    // A streamed body declares no length: refused before anything reads it.
    const chunk = new TextEncoder().encode('{"userRequest": ')
    const streamed = await fetch(`${server.url}/skill`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(chunk)
          c.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    expect(streamed.status).toBe(411)
    expect(((await streamed.json()) as any).error.code).toBe('LENGTH_REQUIRED')
  })
})

describe('DEBUG routes do not get around KAKAO_SKILL_SECRET', () => {
  test("/test-skill passes on the caller's secret header, and adds none of its own", async () => {
    const { startTestKbot } = await import('../helpers/kbot.ts')
    const model = startFakeOpenAI({ content: '비밀 답변' })
    const k = await startTestKbot({
      dialect: 'sqlite',
      label: 'debug-secret',
      env: { DEBUG: 'true', KAKAO_SKILL_SECRET: 'open-sesame', OPENAI_BASE_URL: model.url },
    })
    try {
      const without = await k.post('/test-skill', { utterance: '안녕' })
      expect(without.status).toBe(401)
      expect(without.json.reply.error.code).toBe('UNAUTHORIZED')
      const wrong = await k.post('/test-skill', { utterance: '안녕' }, { 'x-kbot-skill-secret': 'guess' })
      expect(wrong.status).toBe(401)
      const right = await k.post(
        '/test-skill',
        { utterance: '안녕' },
        { 'x-kbot-skill-secret': 'open-sesame' },
      )
      expect(right.status).toBe(200)
      expect(right.json.reply.template.outputs[0].simpleText.text).toBe('비밀 답변')
    } finally {
      await k.stop()
      model.close()
    }
  })
})
