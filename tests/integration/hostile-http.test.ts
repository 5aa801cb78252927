import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { validateSkillResponse } from '../../src/kakao/response.ts'
import type { Dialect } from '../../src/store/db.ts'
import { createPromptVersion } from '../../src/store/prompts.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

const ANSWER = '테스트 답변'
const OPERATOR_PROMPT = '운영자 프롬프트 OPERATOR-MARKER'

/**
 * Issue 15, through /skill on both stores: each hostile input gets either a 4xx JSON error with nothing
 * written, or a normal answer; never the apology of a failed turn.
 */
for (const dialect of await testDialects()) {
  describe(`hostile input through /skill (${dialect})`, () => {
    let model: FakeOpenAI
    let k: TestKbot

    beforeAll(async () => {
      model = startFakeOpenAI({ content: ANSWER })
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `hostile-${dialect}`,
        env: { OPENAI_BASE_URL: model.url, CALLBACK_ALLOWED_HOSTS: 'callbacks.invalid' },
        // Room for 200 KB fields, so that the payload schema (not the body limit) is what refuses them.
        toml: '[kakao]\nmax_body_bytes = 1048576',
      })
      await createPromptVersion(k.db.store.db, { name: 'default', systemPrompt: OPERATOR_PROMPT })
    })
    afterAll(async () => {
      await k.stop()
      model.close()
    })

    const q = (sql: string, p: unknown[] = []) => k.db.store.db.query<Row>(sql, p)
    const counts = async () => {
      const [row] = await q(
        `select (select count(*) from appuser) as users, (select count(*) from message) as messages,
                (select count(*) from aiprocessingtask where kind <> 'job') as tasks, (select count(*) from eventlog) as events`,
      )
      return row
    }
    const expectAnswer = (res: { status: number; json: any }) => {
      expect(res.status).toBe(200)
      expect(validateSkillResponse(res.json)).toEqual([])
      expect(res.json.template.outputs[0].simpleText.text).toBe(ANSWER)
    }
    const modelRequestFor = async (utterance: string) => {
      await waitFor(() => model.requests.some((r) => r.body.messages.at(-1)?.content === utterance), {
        what: 'the model request of this turn',
      })
      return model.requests.find((r) => r.body.messages.at(-1)?.content === utterance)!
    }

    test.each([
      ['26 filler syllables and a letter', `${'음'.repeat(26)}x`],
      ['several such clauses', `${'아'.repeat(30)}b, `.repeat(12)],
      ['a greeting then a long run', `안녕 ${'어'.repeat(400)}?`],
    ])('%s: a normal answer (the greeting check cannot backtrack)', async (_label, utterance) => {
      expectAnswer(await k.post('/skill', kakaoPayload({ utterance, userId: `filler-${dialect}` })))
      expect((await k.get('/health')).json).toEqual({ status: 'ok' })
    })

    test.each(['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'])(
      'a block and intent named %s: the operator prompt answers, not the default or an apology',
      async (name) => {
        const utterance = `블록 이름 ${name}`
        const payload = kakaoPayload({ utterance, userId: `proto-${dialect}` }) as Record<string, any>
        payload.userRequest.block = { id: name, name }
        payload.intent = { id: name, name }
        expectAnswer(await k.post('/skill', payload))
        const request = await modelRequestFor(utterance)
        expect(request.body.messages[0]!.content).toContain('OPERATOR-MARKER')
      },
    )

    const huge = 'x'.repeat(200_000)
    test.each([
      ['bot.id', (p: any) => (p.bot.id = huge)],
      ['bot.name', (p: any) => (p.bot.name = huge)],
      ['plusfriendUserKey', (p: any) => (p.userRequest.user.properties.plusfriendUserKey = huge)],
      ['callbackUrl', (p: any) => (p.userRequest.callbackUrl = `https://callbacks.invalid/${huge}`)],
      ['callbackUrl', (p: any) => (p.userRequest.callbackUrl = 'https://callbacks.invalid/콜백')],
      ['userRequest.user.id', (p: any) => (p.userRequest.user.id = 'u'.repeat(201))],
      ['userRequest.block.name', (p: any) => (p.userRequest.block = { id: 'b', name: 'n'.repeat(201) })],
      ['intent.name', (p: any) => (p.intent = { id: 'i', name: 'n'.repeat(201) })],
    ])('an over-long or malformed %s: 400 with the JSON error, nothing written', async (field, spoil) => {
      const payload = kakaoPayload({ utterance: '안녕하세요', userId: `long-${dialect}` })
      spoil(payload)
      const before = await counts()
      const res = await k.post('/skill', payload)
      expect(res.status).toBe(400)
      expect(res.json.error.code).toBe('BAD_REQUEST')
      expect(res.json.error.message).toContain(field)
      expect(await counts()).toEqual(before)
    })

    test('NUL in bot.id and plusfriendUserKey: removed, the turn answered, the same on both stores', async () => {
      const user = `nulkey-${dialect}`
      const payload = kakaoPayload({ utterance: '널 문자 시험', userId: user, botId: 'bot\u0000-nul' })
      payload.userRequest.user.properties.plusfriendUserKey = 'key\u0000-nul'
      expectAnswer(await k.post('/skill', payload))
      const [row] = await q('select bot_id, plusfriend_user_key from appuser where kakao_user_id = $1', [
        user,
      ])
      expect(row).toEqual({ bot_id: 'bot-nul', plusfriend_user_key: 'key-nul' })
    })

    test('a lone surrogate in the utterance and bot.name: replaced by U+FFFD and answered', async () => {
      const user = `surrogate-${dialect}`
      const payload = kakaoPayload({ utterance: '\ud800반가워요\udfff', userId: user }) as Record<string, any>
      payload.bot.name = '봇\udc00'
      expectAnswer(await k.post('/skill', payload))
      const rows = await q(
        `select m.content from message m join conversation c on c.id = m.conv_id join appuser u on u.id = c.user_id
          where u.kakao_user_id = $1 and m.role = 'user'`,
        [user],
      )
      expect(rows.map((r) => r.content)).toEqual(['\ufffd반가워요\ufffd'])
    })

    test('a refused callback host keeps only a bounded host in the event', async () => {
      const user = `refused-${dialect}`
      const host = `${'h'.repeat(900)}.example`
      const res = await k.post(
        '/skill',
        kakaoPayload({ utterance: '콜백 거절 시험', userId: user, callbackUrl: `https://${host}/cb` }),
      )
      expectAnswer(res)
      const [event] = await q(
        `select e.detail from eventlog e join appuser u on u.id = e.user_id
          where u.kakao_user_id = $1 and e.type = 'callback_refused'`,
        [user],
      )
      const detail = typeof event!.detail === 'string' ? JSON.parse(event!.detail) : event!.detail
      expect(detail.host.length).toBeLessThanOrEqual(255)
      expect(host.startsWith(detail.host)).toBe(true)
    })

    test('a failed task shows an error code on the public status route, not the upstream text', async () => {
      model.script({ status: 401 })
      const user = `status-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '상태 코드 시험', userId: user }))
      const [task] = await q(
        'select t.id from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1',
        [user],
      )
      await waitFor(async () => (await k.get(`/user/ai-status/${task!.id}`)).json.status === 'failed', {
        what: 'the task to fail',
      })
      const status = await k.get(`/user/ai-status/${task!.id}`)
      expect(status.json.error).toBe('AI_REJECTED')
      expect(JSON.stringify(status.json)).not.toContain('sk-')
    })
  })
}

describe('start-up warnings', () => {
  test.each([
    ['unset', {}, true],
    ['set', { KAKAO_SKILL_SECRET: 'open-sesame' }, false],
  ])('KAKAO_SKILL_SECRET %s: warned only when unset', async (_label, env, warned) => {
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { loadConfig } = await import('../../src/config.ts')
    const { createLogger } = await import('../../src/logger.ts')
    const { startServer } = await import('../../src/server.ts')
    const dir = mkdtempSync(join(tmpdir(), 'kbot-warn-'))
    const lines: { level: number; msg: string }[] = []
    const log = createLogger({
      level: 'warn',
      destination: { write: (s: string) => lines.push(JSON.parse(s)) },
    })
    const config = loadConfig({
      cwd: dir,
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'kbot.db')}`,
        OPENAI_API_KEY: 'sk-test',
        ...env,
      },
    })
    const server = await startServer(config, { log })
    await server.stop()
    const warning = lines.find((l) => l.msg.startsWith('KAKAO_SKILL_SECRET is not set'))
    expect(warning !== undefined).toBe(warned)
    if (warning) expect(warning.level).toBe(40)
  })
})
