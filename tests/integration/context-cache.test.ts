import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Dialect } from '../../src/store/db.ts'
import { eraseUser } from '../../src/store/forget.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'

/**
 * The per-instance context cache (kakao/context-cache.ts): a returning user's turn is decided on what instance A
 * remembers, and A's enqueue statement must notice every change another instance (B, on the same database) or
 * the CLI made meanwhile — then nothing is written by the stale attempt and the turn runs again on a fresh read.
 * Workers are off: only what the acks wrote is looked at.
 */
const TOML = `
[worker]
concurrency = 0
[plugins.rate-limit]
per_minute = 1
burst = 10
`

for (const dialect of await testDialects()) {
  describe(`context cache across instances (${dialect})`, () => {
    let kakao: FakeKakao
    let a: TestKbot
    let b: TestKbot
    const env = () => ({ CALLBACK_ALLOWED_HOSTS: kakao.origin, OPENAI_BASE_URL: 'http://127.0.0.1:9' })

    beforeAll(async () => {
      kakao = startFakeKakao()
      a = await startTestKbot({
        dialect: dialect as Dialect,
        label: `ctx-cache-${dialect}`,
        env: env(),
        toml: TOML,
      })
      b = await startTestKbot({
        dialect: dialect as Dialect,
        label: 'ctx-cache-b',
        db: a.db,
        env: env(),
        toml: TOML,
      })
    })
    afterAll(async () => {
      await b?.stop()
      await a?.stop()
      kakao?.close()
    })

    const q = <T = Record<string, any>>(sql: string, params: unknown[] = []) =>
      a.db.store.db.query<T>(sql, params)
    const send = (k: TestKbot, user: string, text: string, requestId = `ctx-${crypto.randomUUID()}`) =>
      k.post('/skill', kakaoPayload({ utterance: text, userId: user, callbackUrl: kakao.callbackUrl() }), {
        'x-request-id': requestId,
      })
    const userRow = async (user: string) =>
      (await q('select * from appuser where kakao_user_id = $1', [user]))[0] as
        | Record<string, any>
        | undefined
    const tasksOf = (user: string) =>
      q(
        `select t.conv_id, t.input, t.user_id from aiprocessingtask t join appuser u on u.id = t.user_id
          where u.kakao_user_id = $1 and t.kind = 'ai_answer' order by t.created_at, t.id`,
        [user],
      )
    const userMessages = async (user: string) =>
      (
        await q(
          `select m.content from message m join conversation c on c.id = m.conv_id
            join appuser u on u.id = c.user_id where u.kakao_user_id = $1 and m.role = 'user'
            order by m.created_at, m.id`,
          [user],
        )
      ).map((r) => r.content)
    const inputOf = (row: Record<string, any>) =>
      typeof row.input === 'string' ? JSON.parse(row.input) : row.input
    const tokensLeft = async (userId: string) =>
      Number((await q('select tokens from ratelimit where user_id = $1', [userId]))[0]!.tokens)

    test('a name asked for on another instance is taken here, not sent to the model', async () => {
      const user = `ctx-name-${dialect}`
      expect((await send(a, user, '안녕하세요')).json.useCallback).toBe(true)
      expect((await send(a, user, '오늘 날씨 어때요?')).json.useCallback).toBe(true)
      const welcome = await b.post('/welcome', kakaoPayload({ utterance: '', userId: user }))
      expect(welcome.json.template.outputs[0].simpleText.text).toContain('이름을 알려 주세요')
      const reply = await send(a, user, '민수')
      expect(reply.json.useCallback).toBeUndefined()
      expect(JSON.stringify(reply.json)).toContain('민수')
      expect((await userRow(user))!.name).toBe('민수')
      // The model got the two messages before the name, not the name.
      expect((await tasksOf(user)).map((t) => inputOf(t).utterance)).toEqual([
        '안녕하세요',
        '오늘 날씨 어때요?',
      ])
    })

    test('a conversation ended elsewhere is not written to: the turn opens a new one', async () => {
      const user = `ctx-ended-${dialect}`
      await send(a, user, '첫 번째 질문이에요')
      await send(a, user, '두 번째 질문이에요')
      const [first] = await tasksOf(user)
      await q('update conversation set ended_at = last_activity_at where id = $1', [first!.conv_id])
      await send(a, user, '세 번째 질문이에요')
      const tasks = await tasksOf(user)
      expect(tasks).toHaveLength(3)
      expect(tasks[1]!.conv_id).toBe(first!.conv_id)
      expect(tasks[2]!.conv_id).not.toBe(first!.conv_id)
      const counts = await q<{ conv_id: string; n: number }>(
        `select conv_id, count(*) as n from message where conv_id in ($1, $2) group by conv_id`,
        [first!.conv_id, tasks[2]!.conv_id],
      )
      const byConv = Object.fromEntries(counts.map((r) => [r.conv_id, Number(r.n)]))
      expect(byConv[first!.conv_id]).toBe(2)
      expect(byConv[tasks[2]!.conv_id]).toBe(1)
    })

    test('a crisis flagged on another instance gives the next turn here the safety prompt', async () => {
      const user = `ctx-flag-${dialect}`
      await send(a, user, '상담 예약하고 싶어요')
      await send(a, user, '시간이 언제 되나요?')
      const crisis = await send(b, user, '요즘 그냥 죽고 싶어요 ㅠㅠ')
      expect(crisis.json.useCallback).toBeUndefined()
      await send(a, user, '내일 가능할까요?')
      const tasks = await tasksOf(user)
      expect(tasks.map((t) => inputOf(t).promptName)).toEqual(['default', 'default', a.config.safety.prompt])
    })

    test('a user forgotten elsewhere starts over here, with nothing written for the old id', async () => {
      const user = `ctx-forgot-${dialect}`
      await send(a, user, '기억해 주세요')
      await send(a, user, '제 얘기 들어 주세요')
      const old = (await userRow(user))!
      expect(await eraseUser(b.db.store.db, String(old.id), 'operator')).not.toBeNull()
      expect((await send(a, user, '다시 시작할게요')).json.useCallback).toBe(true)
      const now = (await userRow(user))!
      expect(now.id).not.toBe(old.id)
      const tasks = await tasksOf(user)
      expect(tasks).toHaveLength(1)
      expect(tasks[0]!.user_id).toBe(now.id)
      expect(await userMessages(user)).toEqual(['다시 시작할게요'])
      expect(await q('select id from conversation where user_id = $1', [old.id])).toHaveLength(0)
    })

    test('a stale attempt takes no token and writes nothing: the turn is stored once', async () => {
      const user = `ctx-token-${dialect}`
      await send(a, user, '하나')
      await send(a, user, '둘')
      const row = (await userRow(user))!
      const before = await tokensLeft(String(row.id))
      // Any change to the user row (here its key, as another instance's upsert would) makes A's memory stale.
      const keyed = kakaoPayload({ utterance: '셋', userId: user, callbackUrl: kakao.callbackUrl() })
      keyed.userRequest.user.properties.plusfriendUserKey = 'pf-new'
      expect((await b.post('/skill', keyed)).json.useCallback).toBe(true)
      expect((await userRow(user))!.plusfriend_user_key).toBe('pf-new')
      const afterB = await tokensLeft(String(row.id))
      expect(afterB).toBeCloseTo(before - 1, 1)
      await send(a, user, '넷')
      expect(await userMessages(user)).toEqual(['하나', '둘', '셋', '넷'])
      expect(await tasksOf(user)).toHaveLength(4)
      // One token for '넷', not two (the stale attempt took none).
      expect(await tokensLeft(String(row.id))).toBeCloseTo(afterB - 1, 1)
    })

    test('a repeated request served from memory makes no second task and takes no second token', async () => {
      const user = `ctx-dup-${dialect}`
      await send(a, user, '처음')
      const id = `ctx-dup-req-${dialect}`
      const first = await send(a, user, '같은 요청', id)
      const row = (await userRow(user))!
      const before = await tokensLeft(String(row.id))
      const again = await send(a, user, '같은 요청', id)
      expect(first.json.useCallback).toBe(true)
      expect(again.json.useCallback).toBe(true)
      expect((await tasksOf(user)).map((t) => inputOf(t).utterance)).toEqual(['처음', '같은 요청'])
      expect(await userMessages(user)).toEqual(['처음', '같은 요청'])
      expect(await tokensLeft(String(row.id))).toBeCloseTo(before, 1)
    })
  })
}
