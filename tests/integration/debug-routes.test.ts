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
})
