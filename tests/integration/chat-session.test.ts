import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalKbot } from '../../src/chat/local-server.ts'
import { type CallbackReceiver, startCallbackReceiver } from '../../src/chat/receiver.ts'
import { createChatSession } from '../../src/chat/session.ts'
import { parseSkillPayload } from '../../src/kakao/payload.ts'
import type { RunningServer } from '../../src/server.ts'
import type { Dialect } from '../../src/store/db.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { postJson } from '../helpers/proc.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>
interface Seen {
  path: string
  headers: Record<string, string>
  body: any
}

/** Sits between the session and kbot and records what the session sends, as Kakao's side would see it. */
function startRecordingProxy(target: string) {
  const seen: Seen[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const text = await req.text()
      const path = new URL(req.url).pathname
      seen.push({ path, headers: Object.fromEntries(req.headers), body: JSON.parse(text) })
      const res = await fetch(`${target}${path}`, { method: 'POST', headers: req.headers, body: text })
      return new Response(await res.text(), { status: res.status, headers: res.headers })
    },
  })
  return { url: `http://127.0.0.1:${server.port}`, seen, close: () => server.stop(true) }
}

for (const dialect of await testDialects()) {
  describe(`chat session against a real kbot (${dialect})`, () => {
    let db: TestDb
    let ai: FakeOpenAI
    let dir: string
    let receiver: CallbackReceiver
    let server: RunningServer
    let proxy: ReturnType<typeof startRecordingProxy>

    beforeAll(async () => {
      db = await createTestDb(dialect as Dialect, `chat-session-${dialect}`)
      ai = startFakeOpenAI()
      dir = mkdtempSync(join(tmpdir(), 'kbot-chat-session-'))
      // inline_wait_ms = 0: without a callback every AI answer is offered through 답변 확인.
      writeFileSync(join(dir, 'config.toml'), '[kakao]\ncallback_settle_ms = 0\ninline_wait_ms = 0\n')
      receiver = startCallbackReceiver()
      server = await startLocalKbot({
        flags: {},
        env: {
          DATABASE_URL: db.url,
          OPENAI_BASE_URL: ai.url,
          OPENAI_API_KEY: 'test-key',
          KAKAO_SKILL_SECRET: 's3cret',
          KBOT_CONFIG: join(dir, 'config.toml'),
        },
        callbackOrigin: receiver.origin,
        logLevel: 'silent',
      })
      proxy = startRecordingProxy(server.url)
    })
    afterAll(async () => {
      // Optional chaining: a beforeAll that failed half-way must still let the rest be cleaned up.
      proxy?.close()
      await server?.stop()
      receiver?.close()
      ai?.close()
      await db?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const tasksOf = (kakaoUserId: string) =>
      db.store.db.query<Row>(
        'select t.* from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1 order by t.created_at',
        [kakaoUserId],
      )

    test('real payloads with the secret and a fresh X-Request-Id; the answer comes through the single-use callback', async () => {
      const identity = { botId: 'bot-1', userId: 'session-cb' }
      const session = createChatSession({ baseUrl: proxy.url, identity, receiver, secret: 's3cret' })
      expect((await session.welcome()).texts[0]).toContain('이름을 알려 주세요')
      expect((await session.say('/이름 콜백')).via).toBe('inline')
      const reply = await session.say('첫 질문')
      expect(reply).toMatchObject({
        via: 'callback',
        waiting: 'AI가 답변을 생성하고 있어요!',
        texts: ['답변: 첫 질문'],
      })
      await session.say('두 번째 질문')

      const skills = proxy.seen.filter((s) => s.path === '/skill')
      expect(skills).toHaveLength(3)
      for (const s of skills) {
        expect(s.headers['x-kbot-skill-secret']).toBe('s3cret')
        const parsed = parseSkillPayload(s.body)
        expect(parsed.ok).toBe(true)
        expect(s.body.userRequest.user).toMatchObject({ id: 'session-cb', type: 'botUserKey' })
        expect(s.body.bot.id).toBe('bot-1')
        expect(s.body.userRequest.callbackUrl).toStartWith(`${receiver.origin}/v1/bots/`)
      }
      expect(new Set(skills.map((s) => s.headers['x-request-id'])).size).toBe(3)

      const tasks = await tasksOf('session-cb')
      expect(tasks.map((t) => [t.callback_status, t.request_id])).toEqual([
        ['sent', skills[1]!.headers['x-request-id']],
        ['sent', skills[2]!.headers['x-request-id']],
      ])
      // Like Kakao's, each URL works once, and the answer has Kakao's shape.
      const again = await postJson(skills[1]!.body.userRequest.callbackUrl, {
        version: '2.0',
        template: { outputs: [{ simpleText: { text: 'twice' } }] },
      })
      expect(again.status).toBe(200)
      expect(again.json).toMatchObject({ status: 'FAIL', message: expect.stringContaining('callback token') })
      expect(Object.keys(again.json).sort()).toEqual(['message', 'status', 'taskId', 'timestamp'])
      // A URL kbot answered inline for (the /이름 turn) is spent too.
      const unused = await postJson(skills[0]!.body.userRequest.callbackUrl, {
        version: '2.0',
        template: { outputs: [{ simpleText: { text: 'late' } }] },
      })
      expect(unused.json.status).toBe('FAIL')
    })

    test('답변 확인 picked by number sends its messageText and its extra as action.clientExtra', async () => {
      const identity = { botId: 'bot-1', userId: 'session-check' }
      const session = createChatSession({ baseUrl: proxy.url, identity, receiver: null, secret: 's3cret' })
      await session.welcome()
      await session.say('/이름 확인')
      // A model slower than the (zero) inline wait: the reply must be the 답변 확인 offer, never the answer.
      ai.script({ delayMs: 300, content: '답변: 기다릴 질문' })
      const pending = await session.say('기다릴 질문')
      expect(pending.via).toBe('inline')
      expect(pending.texts[0]).toContain('답변을 준비하고 있어요')
      expect(pending.quickReplies.map((q) => q.label)).toEqual(['답변 확인'])
      const [task] = await tasksOf('session-check')
      expect(pending.quickReplies[0]!.extra).toEqual({ kbot_task: task!.id })
      await waitFor(async () => (await tasksOf('session-check'))[0]?.status === 'completed', {
        what: 'the task to complete',
      })

      const answer = await session.say('1')
      expect(answer.texts).toEqual(['답변: 기다릴 질문'])
      const sent = proxy.seen.at(-1)!.body
      expect(sent.userRequest.utterance).toBe('답변 확인')
      expect(sent.action.clientExtra).toEqual({ kbot_task: task!.id })
      expect(sent.userRequest.callbackUrl).toBeUndefined()
      // A number that picks nothing is just text.
      await session.say('7')
      expect(proxy.seen.at(-1)!.body.userRequest.utterance).toBe('7')
      expect(proxy.seen.at(-1)!.body.action.clientExtra).toEqual({})
    })

    test('a callback that misses the wait is reported, and the late POST is refused like an expired Kakao URL', async () => {
      const identity = { botId: 'bot-1', userId: 'session-late' }
      const session = createChatSession({
        baseUrl: server.url,
        identity,
        receiver,
        secret: 's3cret',
        callbackTimeoutMs: 200,
      })
      await session.say('/이름 늦음')
      // The script answers the NEXT model call: an earlier test's task still running (its '7') must not take it.
      await waitFor(
        async () =>
          ai.inFlight() === 0 &&
          (
            await db.store.db.query(
              `select 1 from aiprocessingtask where kind = 'ai_answer' and status in ('pending', 'processing')`,
            )
          ).length === 0,
        { what: 'earlier tasks to finish' },
      )
      ai.script({ delayMs: 1500, content: '늦은 답변' })
      const reply = await session.say('늦을 질문')
      expect(reply).toMatchObject({ via: 'timeout', texts: [], waiting: 'AI가 답변을 생성하고 있어요!' })
      const task = await waitFor(
        async () => (await tasksOf('session-late')).find((t) => t.callback_status === 'rejected'),
        { what: 'the late callback to be refused' },
      )
      expect(task.ai_response).toBe('늦은 답변')
    })

    test('a wrong secret is a clear error that names the fix', async () => {
      const session = createChatSession({
        baseUrl: server.url,
        identity: { botId: 'b', userId: 'session-nosecret' },
        receiver: null,
      })
      await expect(session.welcome()).rejects.toThrow(/answered \/welcome with 401 \(set KAKAO_SKILL_SECRET/)
      expect(
        await db.store.db.query('select 1 from appuser where kakao_user_id = $1', ['session-nosecret']),
      ).toEqual([])
    })
  })
}
