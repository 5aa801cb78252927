import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Dialect, openStore, type Store } from '../../src/store/db.ts'
import { takeToken } from '../../src/store/ratelimit.ts'
import { DEFAULT_MESSAGES } from '../../src/texts.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

for (const dialect of await testDialects()) {
  describe(`per-user rate limit (${dialect})`, () => {
    let model: FakeOpenAI
    let a: TestKbot
    let b: TestKbot
    let second: Store

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '답변이에요' })
      // 20 a minute: one token back every 3 s; a burst of 2.
      const toml = '[plugins.rate-limit]\nper_minute = 20\nburst = 2'
      const env = { OPENAI_BASE_URL: model.url }
      a = await startTestKbot({ dialect: dialect as Dialect, label: `rl-${dialect}`, env, toml })
      b = await startTestKbot({ dialect: dialect as Dialect, label: `rl-b-${dialect}`, env, toml, db: a.db })
      second = await openStore(a.db.url)
    })
    afterAll(async () => {
      await second.close()
      await b.stop()
      await a.stop()
      model.close()
    })

    const q = (sql: string, p: unknown[] = []) => a.db.store.db.query<Row>(sql, p)

    test('the bucket: burst at once, then one per refill interval; a clock running behind refills nothing', async () => {
      const db = a.db.store.db
      const bucket = { burst: 2, perMinute: 60 }
      const t = 1_000_000_000_000
      const take = (at: number) => takeToken(db, 'bucket-user', bucket, at)
      expect([await take(t), await take(t), await take(t)]).toEqual([true, true, false])
      expect(await take(t + 500)).toBe(false)
      expect(await take(t + 1000)).toBe(true) // 1 s = one token
      expect(await take(t + 1000)).toBe(false)
      expect(await take(t - 60_000)).toBe(false) // an instance whose clock is behind
      expect([await take(t + 60_000), await take(t + 60_000), await take(t + 60_000)]).toEqual([
        true,
        true,
        false,
      ])
      expect(await takeToken(db, 'another-user', bucket, t)).toBe(true)
    })

    test('concurrent takes on two connections never hand out more than the bucket holds', async () => {
      const bucket = { burst: 5, perMinute: 1 }
      const at = Date.now()
      // On SQLite both stores live in this one process; their statements are single autocommit writes.
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          takeToken(i % 2 ? second.db : a.db.store.db, 'race-user', bucket, at),
        ),
      )
      expect(results.filter(Boolean).length).toBe(5)
    })

    test('over the limit across two instances: a polite reply, no task, no model call, an eventlog row; then reset', async () => {
      const userId = `rl-user-${dialect}`
      const send = (bot: TestKbot, utterance: string) =>
        bot.post('/skill', kakaoPayload({ utterance, userId }))
      const before = model.requests.length
      const first = await send(a, '하나')
      const secondTurn = await send(b, '둘')
      const third = await send(a, '셋')
      expect([first.status, secondTurn.status, third.status]).toEqual([200, 200, 200])
      expect(third.json.template.outputs[0].simpleText.text).toBe(DEFAULT_MESSAGES.rate_limited)
      expect(first.json.template.outputs[0].simpleText.text).not.toBe(DEFAULT_MESSAGES.rate_limited)
      const fourth = await send(b, '넷')
      expect(fourth.json.template.outputs[0].simpleText.text).toBe(DEFAULT_MESSAGES.rate_limited)

      const tasks = await q(
        `select m.content from aiprocessingtask t join message m on m.id = t.message_id
          join appuser u on u.id = t.user_id where u.kakao_user_id = $1 order by t.created_at, t.id`,
        [userId],
      )
      expect(tasks.map((r) => r.content)).toEqual(['하나', '둘'])
      await waitFor(() => model.requests.length >= before + 2)
      expect(
        model.requests
          .slice(before)
          .map((r) => r.body.messages.at(-1)!.content)
          .sort(),
      ).toEqual(['둘', '하나'])
      const events = await q(
        `select e.detail from eventlog e join appuser u on u.id = e.user_id
          where e.type = 'rate_limited' and u.kakao_user_id = $1`,
        [userId],
      )
      expect(events.length).toBe(2)

      // Another user is not limited by this one.
      const other = await b.post(
        '/skill',
        kakaoPayload({ utterance: '다른 사람', userId: `${userId}-other` }),
      )
      expect(other.json.template.outputs[0].simpleText.text).not.toBe(DEFAULT_MESSAGES.rate_limited)

      // One token comes back after 3 s (per_minute = 20), for either instance.
      const limitedAt = Date.now()
      await waitFor(() => Date.now() > limitedAt + 3100, { what: 'the refill interval', timeoutMs: 5000 })
      const fifth = await send(b, '다섯')
      expect(fifth.json.template.outputs[0].simpleText.text).not.toBe(DEFAULT_MESSAGES.rate_limited)
      expect((await send(a, '여섯')).json.template.outputs[0].simpleText.text).toBe(
        DEFAULT_MESSAGES.rate_limited,
      )
    })
  })
}
