import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { validateSkillResponse } from '../../src/kakao/response.ts'
import type { Dialect } from '../../src/store/db.ts'
import { registerDir } from '../helpers/cleanup.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { fixture, fixtureNames, kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

/** The HTTP edge: real payloads accepted, bad input refused with nothing written, auth, and the side routes. */
for (const dialect of await testDialects()) {
  describe(`Kakao HTTP edge (${dialect})`, () => {
    let model: FakeOpenAI
    let k: TestKbot
    const others: TestKbot[] = []

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '테스트 답변' })
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `http-${dialect}`,
        // Real fixtures carry bot-api.kakao.com callback URLs; nothing here may reach the internet.
        env: { OPENAI_BASE_URL: model.url, CALLBACK_ALLOWED_HOSTS: 'callbacks.invalid' },
        toml: '[kakao]\nmax_body_bytes = 4096\nmax_utterance_chars = 200',
      })
    })
    afterAll(async () => {
      await Promise.all([k.stop(), ...others.map((o) => o.stop())])
      model.close()
    })

    const q = (bot: TestKbot, sql: string, p: unknown[] = []) => bot.db.store.db.query<Row>(sql, p)
    const counts = async (bot: TestKbot) => {
      const [row] = await q(
        bot,
        `select (select count(*) from appuser) as users, (select count(*) from message) as messages,
                (select count(*) from aiprocessingtask where kind <> 'job') as tasks, (select count(*) from eventlog) as events`,
      )
      return row
    }

    test.each(fixtureNames('req-'))(
      'real payload %s is accepted with a valid SkillResponse',
      async (name) => {
        const res = await k.post('/skill', fixture(name))
        expect(res.status).toBe(200)
        expect(validateSkillResponse(res.json)).toEqual([])
      },
    )

    test.each([
      ['malformed JSON', '{"userRequest": {', 400, 'BAD_REQUEST'],
      ['an empty body', '', 400, 'BAD_REQUEST'],
      ['a JSON array', '[1,2]', 400, 'BAD_REQUEST'],
      ['a JSON string', '"hello"', 400, 'BAD_REQUEST'],
      ['no userRequest', '{"bot": {"id": "x"}}', 400, 'BAD_REQUEST'],
      ['utterance missing', '{"userRequest": {"user": {"id": "u"}}}', 400, 'BAD_REQUEST'],
      ['utterance a number', '{"userRequest": {"utterance": 3, "user": {"id": "u"}}}', 400, 'BAD_REQUEST'],
      ['user.id missing', '{"userRequest": {"utterance": "hi", "user": {}}}', 400, 'BAD_REQUEST'],
      ['user.id empty', '{"userRequest": {"utterance": "hi", "user": {"id": ""}}}', 400, 'BAD_REQUEST'],
      [
        'an oversize body',
        JSON.stringify({ userRequest: { utterance: 'x'.repeat(5000), user: { id: 'u' } } }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
    ])('%s: a 4xx JSON error, nothing written, still serving', async (_label, body, status, code) => {
      const before = await counts(k)
      const res = await k.post('/skill', body)
      expect(res.status).toBe(status)
      expect(res.json.error.code).toBe(code)
      expect(typeof res.json.error.message).toBe('string')
      expect(await counts(k)).toEqual(before)
      expect((await k.get('/health')).json).toEqual({ status: 'ok' })
    })

    test('an over-long utterance gets a polite reply, no model call and no rows beyond the user', async () => {
      const before = model.requests.length
      const res = await k.post(
        '/skill',
        kakaoPayload({ utterance: '가'.repeat(201), userId: `long-${dialect}` }),
      )
      expect(res.status).toBe(200)
      expect(res.json.template.outputs[0].simpleText.text).toContain('200자 이내')
      expect(model.requests.length).toBe(before)
      const users = await q(k, 'select id from appuser where kakao_user_id = $1', [`long-${dialect}`])
      expect(users.length).toBe(0)
    })

    test('NUL bytes in the utterance and user id are dropped, not stored or refused', async () => {
      const res = await k.post(
        '/skill',
        kakaoPayload({ utterance: '안\u0000녕', userId: `nul\u0000-${dialect}` }),
      )
      expect(res.json.template.outputs[0].simpleText.text).toBe('테스트 답변')
      const rows = await q(
        k,
        `select m.content from message m join conversation c on c.id = m.conv_id join appuser u on u.id = c.user_id
          where u.kakao_user_id = $1 and m.role = 'user'`,
        [`nul-${dialect}`],
      )
      expect(rows.map((r) => r.content)).toEqual(['안녕'])
    })

    test('a turn that outruns its budget answers the apology and queues nothing', async () => {
      const { mkdtempSync, writeFileSync } = await import('node:fs')
      const { join } = await import('node:path')
      // Inside the repository (the plugin imports src/ by path); registered, so a timeout removes it too.
      const dir = mkdtempSync(join(import.meta.dir, '..', '..', `plugins-local-slow-`))
      const removeDir = registerDir(dir)
      const file = join(dir, 'stall.ts')
      writeFileSync(
        file,
        `import { definePlugin } from '${join(import.meta.dir, '..', '..', 'src', 'pipeline', 'types.ts')}'\n` +
          'export default definePlugin({ name: "stall", setup: () => async (_turn, next) => {\n' +
          '  await Bun.sleep(700)\n' +
          '  try { await next() } finally { (globalThis as any).kbotStallDone = true }\n' +
          '} })\n',
      )
      const slow = await startTestKbot({
        dialect: dialect as Dialect,
        label: `budget-${dialect}`,
        env: { OPENAI_BASE_URL: model.url },
        toml: `[kakao]\nturn_budget_ms = 500\ninline_wait_ms = 200\n[pipeline]\norder = ["late-answer", "name-command", "prompt-resolver", "history-context", "stall", "ai-dispatch"]\npaths = { stall = "${file}" }`,
      })
      others.push(slow)
      try {
        ;(globalThis as any).kbotStallDone = false
        const res = await slow.post('/skill', kakaoPayload({ utterance: '느린 차례', userId: 'budget' }))
        expect(res.json.template.outputs[0].simpleText.text).toBe(
          '죄송해요, 잠시 문제가 생겼어요. 조금 뒤에 다시 말씀해 주세요.',
        )
        // The pipeline goes on in the background: wait until ai-dispatch has run and given up.
        await waitFor(() => (globalThis as any).kbotStallDone === true, { what: 'the stalled turn to end' })
        // This user's tasks: a scheduled job's task (no user) is not this turn's.
        const theirs = await q(
          slow,
          "select t.id from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = 'budget'",
        )
        expect(theirs.length).toBe(0)
        expect((await q(slow, 'select id from message')).length).toBe(0)
      } finally {
        await removeDir()
      }
    })

    test('an empty utterance asks for a message', async () => {
      const res = await k.post('/skill', kakaoPayload({ utterance: '   ', userId: `empty-${dialect}` }))
      expect(res.json.template.outputs[0].simpleText.text).toBe('메시지를 입력해 주세요.')
    })

    test('the skill secret is required when set; bot ids are checked when listed', async () => {
      const guarded = await startTestKbot({
        dialect: dialect as Dialect,
        label: `auth-${dialect}`,
        env: {
          OPENAI_BASE_URL: model.url,
          KAKAO_SKILL_SECRET: 's3cret',
          KAKAO_BOT_IDS: '5ae9b76d7409b11ec845b746',
        },
      })
      others.push(guarded)
      const payload = kakaoPayload({ utterance: '안녕', userId: 'auth-user' })
      const before = await counts(guarded)
      const none = await guarded.post('/skill', payload)
      const wrong = await guarded.post('/skill', payload, { 'x-kbot-skill-secret': 'nope' })
      expect([none.status, wrong.status]).toEqual([401, 401])
      expect(none.json.error.code).toBe('UNAUTHORIZED')
      const otherBot = await guarded.post(
        '/skill',
        kakaoPayload({ utterance: '안녕', botId: 'someone-else' }),
        {
          'x-kbot-skill-secret': 's3cret',
        },
      )
      expect(otherBot.status).toBe(403)
      expect(await counts(guarded)).toEqual(before)
      // The fixture's bot id ends with "!", the allowlist entry does not: the same bot.
      const ok = await guarded.post('/skill', payload, { 'x-kbot-skill-secret': 's3cret' })
      expect(ok.status).toBe(200)
      expect(ok.json.template.outputs[0].simpleText.text).toBe('테스트 답변')
      const welcome = await guarded.post('/welcome', payload)
      expect(welcome.status).toBe(401)
    })

    test('/welcome asks a new user for a name and waits for it; greets a known user by name', async () => {
      const user = `welcome-${dialect}`
      const first = await k.post('/welcome', kakaoPayload({ utterance: '', userId: user }))
      expect(first.json.template.outputs[0].simpleText.text).toContain('이름을 알려 주세요')
      const [row] = await q(
        k,
        'select id, name_state, name_state_until from appuser where kakao_user_id = $1',
        [user],
      )
      expect(row!.name_state).toBe('awaiting')
      // As long as name-command waits (await_minutes, 5 by default).
      const waitMs = new Date(row!.name_state_until).getTime() - Date.now()
      expect(waitMs).toBeGreaterThan(4 * 60_000)
      expect(waitMs).toBeLessThanOrEqual(5 * 60_000)
      await q(k, `update appuser set name = '민수', name_state = 'none' where id = $1`, [row!.id])
      const again = await k.post('/welcome', kakaoPayload({ utterance: '', userId: user }))
      expect(again.json.template.outputs[0].simpleText.text).toContain('민수')
    })

    test('/welcome waits for a name only when name-command is in the pipeline to take it', async () => {
      const plain = await startTestKbot({
        dialect: dialect as Dialect,
        label: `welcome-plain-${dialect}`,
        env: { OPENAI_BASE_URL: model.url },
        toml: '[pipeline]\norder = ["late-answer", "prompt-resolver", "history-context", "ai-dispatch"]',
      })
      others.push(plain)
      const res = await plain.post('/welcome', kakaoPayload({ utterance: '', userId: 'welcome-plain' }))
      expect(res.json.template.outputs[0].simpleText.text).toContain('이름을 알려 주세요')
      const [row] = await q(plain, 'select name_state from appuser where kakao_user_id = $1', [
        'welcome-plain',
      ])
      expect(row!.name_state).toBe('none')
    })

    test('/user/ai-status and latest-ai-response report a finished task; unknown ids are 404', async () => {
      const user = `status-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '상태 확인용 질문', userId: user }))
      const [task] = await q(
        k,
        `select t.id, t.conv_id from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1`,
        [user],
      )
      await waitFor(async () => (await k.get(`/user/ai-status/${task!.id}`)).json.status === 'completed')
      const status = await k.get(`/user/ai-status/${task!.id}`)
      expect(status.json).toMatchObject({
        task_id: task!.id,
        status: 'completed',
        ai_response: '테스트 답변',
        tokens_used: 49,
        attempts: 1,
        error: null,
        callback_status: 'inline',
      })
      expect(Date.parse(status.json.created_at)).toBeGreaterThan(0)
      expect(Date.parse(status.json.completed_at)).toBeGreaterThan(0)
      const latest = await k.get(`/user/conversation/${task!.conv_id}/latest-ai-response`)
      expect(latest.json).toMatchObject({ conversation_id: task!.conv_id, content: '테스트 답변' })
      expect((await k.get(`/user/ai-status/${String(task!.id).toUpperCase()}`)).json.task_id).toBe(task!.id)
      expect((await k.get('/user/ai-status/01900000-0000-7000-8000-000000000000')).status).toBe(404)
      expect((await k.get('/user/ai-status/not-a-uuid')).status).toBe(404)
      expect((await k.get('/user/conversation/not-a-uuid/latest-ai-response')).status).toBe(404)
    })

    test('/health, /docs and the OpenAPI document', async () => {
      expect((await k.get('/health')).json).toEqual({ status: 'ok' })
      const doc = await k.get('/docs/json')
      expect(Object.keys(doc.json.paths)).toEqual(
        expect.arrayContaining(['/skill', '/welcome', '/health', '/user/ai-status/{task_id}']),
      )
      const page = await k.kbot.app.handle(new Request('http://localhost/docs'))
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('<html')
      expect((await k.get('/nope')).status).toBe(404)
    })

    test('without OPENAI_API_KEY the bot still answers Kakao, and the task fails with a clear reason', async () => {
      const keyless = await startTestKbot({
        dialect: dialect as Dialect,
        label: `nokey-${dialect}`,
        env: { OPENAI_BASE_URL: model.url, OPENAI_API_KEY: '' },
      })
      others.push(keyless)
      const res = await keyless.post('/skill', kakaoPayload({ utterance: '질문', userId: 'nokey' }))
      expect(res.status).toBe(200)
      expect(res.json.template.outputs[0].simpleText.text).toContain('죄송해요')
      const [task] = await q(
        keyless,
        "select status, error, attempts from aiprocessingtask where kind <> 'job'",
      )
      expect(task).toMatchObject({ status: 'failed', error: 'OPENAI_API_KEY is not set', attempts: 1 })
    })

    test('the /test-* routes exist only with DEBUG', async () => {
      expect((await k.post('/test-name-extraction', { text: '내 이름은 민수야' })).status).toBe(404)
      expect((await k.post('/test-skill', { utterance: '안녕' })).status).toBe(404)
    })
  })
}
