import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import OpenAI from 'openai'
import { applyModeration, moderate } from '../../src/safety/moderation.ts'
import { createTestDb, testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'

type Row = Record<string, unknown>
const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v)
const textOf = (reply: any): string => reply?.template?.outputs?.[0]?.simpleText?.text ?? ''

for (const dialect of await testDialects()) {
  describe(`counselling safety through /skill (${dialect})`, () => {
    let model: FakeOpenAI
    let k: TestKbot
    const ADMIN = 'admin-secret-token'
    beforeAll(async () => {
      model = startFakeOpenAI({ content: '곁에 있을게요. 지금은 어디에 계세요?' })
      k = await startTestKbot({
        dialect,
        label: `safety-${dialect}`,
        env: { OPENAI_BASE_URL: model.url, ADMIN_TOKEN: ADMIN, DEBUG: 'true' },
      })
    })
    afterAll(async () => {
      await k.stop()
      model.close()
    })

    const q = <R = Row>(sql: string, params: unknown[] = []) => k.db.store.db.query<R>(sql, params)

    test('a crisis message is answered at once with the lines, no model call, flag and eventlog written', async () => {
      const userId = `crisis-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '내 이름은 길동이야', userId }))
      const calls = model.requests.length
      const res = await k.post(
        '/skill',
        kakaoPayload({
          utterance: '요즘 그냥 죽고 싶어요 ㅠㅠ',
          userId,
          callbackUrl: 'https://bot-api.kakao.com/cb/x',
        }),
      )
      expect(res.status).toBe(200)
      expect(res.json.useCallback).toBeUndefined()
      const text = textOf(res.json)
      expect(text.startsWith('길동 님, 이야기해 주셔서 고마워요.')).toBe(true)
      for (const line of [
        '자살예방상담전화 109 (24시간)',
        '정신건강위기상담 1577-0199',
        '청소년상담 1388',
        '119',
      ])
        expect(text).toContain(line)
      expect(text).not.toContain('1366') // abuse lines only for abuse
      expect(model.requests.length).toBe(calls)
      expect(
        await q(
          'select * from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1',
          [userId],
        ),
      ).toHaveLength(0)

      const [conv] = await q(
        'select c.* from conversation c join appuser u on u.id = c.user_id where u.kakao_user_id = $1',
        [userId],
      )
      expect(conv!.crisis_kinds).toBe('suicide')
      expect(conv!.flagged_at).not.toBeNull()
      const events = await q(`select * from eventlog where type = 'crisis_flagged' and user_id = $1`, [
        conv!.user_id,
      ])
      expect(events).toHaveLength(1)
      expect(json(events[0]!.detail)).toMatchObject({
        source: 'lexicon',
        kinds: ['suicide'],
        matched: [{ kind: 'suicide', rule: 'want-to-die', text: '죽고싶' }],
        conversation_id: conv!.id,
      })
      const messages = await q('select role, content from message where conv_id = $1 order by created_at', [
        conv!.id,
      ])
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant'])
      expect(messages[0]!.content).toBe('요즘 그냥 죽고 싶어요 ㅠㅠ')
      expect(messages[1]!.content).toBe(text)
    })

    test('the next turn goes to the model under the safety prompt, with the crisis turn in its history', async () => {
      const userId = `crisis-${dialect}`
      const res = await k.post('/skill', kakaoPayload({ utterance: '고마워요', userId }))
      expect(textOf(res.json)).toBe('곁에 있을게요. 지금은 어디에 계세요?')
      const sent = model.requests.at(-1)!.body.messages
      expect(sent[0]!.role).toBe('system')
      expect(sent[0]!.content).toContain('자살·자해 생각이나 폭력 피해')
      expect(sent.some((m) => m.content === '요즘 그냥 죽고 싶어요 ㅠㅠ')).toBe(true)
      const [prompt] = await q(`select version, is_active from prompttemplate where name = 'safety'`)
      expect(Number(prompt!.version)).toBe(1)
    })

    test('a second crisis message in the flagged conversation is answered again; a person is told once per kind', async () => {
      const userId = `crisis-${dialect}`
      const again = await k.post('/skill', kakaoPayload({ utterance: '그래도 죽고 싶어', userId }))
      expect(textOf(again.json)).toContain('109')
      const abuse = await k.post('/skill', kakaoPayload({ utterance: '아빠가 술 먹고 때려요', userId }))
      expect(textOf(abuse.json)).toContain('1366')
      expect(textOf(abuse.json)).toContain('117')
      const events = await q(
        `select e.detail from eventlog e join appuser u on u.id = e.user_id where e.type = 'crisis_flagged' and u.kakao_user_id = $1 order by e.created_at`,
        [userId],
      )
      expect(events.map((e) => json(e.detail).kinds)).toEqual([['suicide'], ['abuse']])
    })

    test('an ordinary message is not flagged and reaches the model under the default prompt', async () => {
      const userId = `calm-${dialect}`
      const calls = model.requests.length
      await k.post('/skill', kakaoPayload({ utterance: '피곤해 죽겠다 ㅋㅋ 호박죽 먹고 싶어', userId }))
      expect(model.requests.length).toBe(calls + 1)
      expect(model.requests.at(-1)!.body.messages[0]!.content).not.toContain('자살·자해')
      const [conv] = await q(
        'select c.* from conversation c join appuser u on u.id = c.user_id where u.kakao_user_id = $1',
        [userId],
      )
      expect(conv!.flagged_at).toBeNull()
    })

    test('GET /admin/safety lists flagged conversations with their last turns, behind the admin token', async () => {
      expect((await k.get('/admin/safety')).status).toBe(401)
      const call = (path: string) =>
        k.kbot.app.handle(
          new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }),
        )
      const res = await call('/admin/safety?since=1h')
      expect(res.status).toBe(200)
      const body = (await res.json()) as any
      expect(body.conversations).toHaveLength(1)
      const c = body.conversations[0]
      expect(c.kinds).toEqual(['suicide', 'abuse'])
      expect(c.user_name).toBe('길동')
      expect(c.last_turns.at(-1).content).toContain('1366')
      const bad = await call('/admin/safety?since=yesterday')
      expect(bad.status).toBe(400)
      expect(((await bad.json()) as any).error.message).toContain('30m, 24h, 7d')
      const future = (await (await call('/admin/safety?since=2099-01-01')).json()) as any
      expect(future.conversations).toEqual([])
    })

    test('POST /test-safety explains one text (DEBUG)', async () => {
      const res = await k.post('/test-safety', { text: '죽고 싶진 않아' })
      expect(res.json).toEqual({ kinds: [], matched: [], reason: 'no crisis: set aside negated:want-to-die' })
      const hit = await k.post('/test-safety', { text: '손목 그었어' })
      expect(hit.json.kinds).toEqual(['self_harm'])
      expect((await k.post('/test-safety', { txt: 'x' })).status).toBe(400)
    })

    test('moderation: categories recorded on the task; a miss of the lexicon flags for a person once', async () => {
      const userId = `moderated-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '요즘 팔에 자꾸 뭘 하게 돼', userId }))
      const [task] = await q<Row>(
        'select t.id, t.conv_id, t.user_id from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1',
        [userId],
      )
      const client = new OpenAI({ apiKey: 'sk-test', baseURL: model.url, maxRetries: 0 })
      model.scriptModeration({ categories: ['self-harm', 'self-harm/intent'] }, { categories: ['self-harm'] })
      const verdict = await moderate(client, '요즘 팔에 자꾸 뭘 하게 돼')
      expect(model.moderations.at(-1)).toEqual({
        model: 'omni-moderation-latest',
        input: '요즘 팔에 자꾸 뭘 하게 돼',
      })
      expect(verdict).toMatchObject({ flagged: true, kinds: ['self_harm'], model: 'omni-moderation-latest' })
      expect(verdict.categories['self-harm/intent']).toBe(true)
      expect(verdict.categories.violence).toBe(false)
      const input = {
        taskId: String(task!.id),
        conversationId: String(task!.conv_id),
        userId: String(task!.user_id),
        userName: null,
        now: new Date(),
      }
      const alert = await applyModeration(k.db.store.db, { ...input, verdict })
      expect(alert).toMatchObject({ source: 'moderation', kinds: ['self_harm'] })
      const [stored] = await q('select moderation from aiprocessingtask where id = $1', [input.taskId])
      expect(json(stored!.moderation)).toMatchObject({ flagged: true, kinds: ['self_harm'] })
      const [conv] = await q('select crisis_kinds from conversation where id = $1', [input.conversationId])
      expect(conv!.crisis_kinds).toBe('self_harm')
      // The same verdict again (a retried task): recorded, but no second alert.
      expect(
        await applyModeration(k.db.store.db, { ...input, verdict: await moderate(client, 'x') }),
      ).toBeNull()
      const events = await q(`select * from eventlog where type = 'crisis_flagged' and user_id = $1`, [
        input.userId,
      ])
      expect(events).toHaveLength(1)
      // A clean verdict flags nothing.
      const clean = await moderate(client, '안녕하세요')
      expect(clean).toMatchObject({ flagged: false, kinds: [] })
    })
  })
}

describe('migration', async () => {
  for (const dialect of await testDialects()) {
    test(`adds the flag and moderation columns (${dialect})`, async () => {
      const t = await createTestDb(dialect, `safety-mig-${dialect}`)
      try {
        const rows = await t.store.db.query('select crisis_kinds, flagged_at from conversation limit 1')
        expect(rows).toEqual([])
        expect(await t.store.db.query('select moderation from aiprocessingtask limit 1')).toEqual([])
      } finally {
        await t.drop()
      }
    })
  }
})
