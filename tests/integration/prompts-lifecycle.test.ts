import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Dialect } from '../../src/store/db.ts'
import { call } from '../helpers/admin.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>
const TOKEN = 'prompt-admin'

/** SPEC §8 through the admin API, with a second instance on the same database and the worker's next model call. */
for (const dialect of await testDialects()) {
  describe(`prompt lifecycle through the admin API (${dialect})`, () => {
    let model: FakeOpenAI
    let a: TestKbot
    let b: TestKbot
    const ids: Record<number, string> = {}

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '네, 알겠어요.' })
      const env = { OPENAI_BASE_URL: model.url, ADMIN_TOKEN: TOKEN }
      a = await startTestKbot({ dialect: dialect as Dialect, label: `prompts-${dialect}`, env })
      b = await startTestKbot({ dialect: dialect as Dialect, label: `prompts-b-${dialect}`, env, db: a.db })
    })
    afterAll(async () => {
      await b.stop()
      await a.stop()
      model.close()
    })

    const admin = (method: string, path: string, body?: unknown) =>
      call(a, method, path, { token: TOKEN, body })
    /** One inline turn on `bot`; returns what the model was sent for it. */
    async function turnOn(bot: TestKbot, utterance: string) {
      const before = model.requests.length
      const res = await bot.post('/skill', kakaoPayload({ utterance, userId: `lifecycle-${dialect}` }))
      expect(res.status).toBe(200)
      await waitFor(() => model.requests.length > before, { what: 'the model call' })
      return model.requests.find((r, i) => i >= before && r.body.messages.at(-1)?.content === utterance)!.body
    }
    // On PostgreSQL the change must arrive by NOTIFY, well before the cache's 5 s expiry (SQLite's only way).
    const spread = () => ({ timeoutMs: dialect === 'postgres' ? 3000 : 10_000 })
    const activeRows = (name: string) =>
      a.db.store.db.query<Row>('select version from prompttemplate where name = $1 and is_active = $2', [
        name,
        true,
      ])

    test('the seeded default is v1 and active; a turn uses it', async () => {
      const list = await admin('GET', '/admin/prompts')
      // The memory migration seeds the summary prompt beside the default.
      expect(list.json).toEqual([
        expect.objectContaining({ name: 'default', active_version: 1, versions: 1 }),
        expect.objectContaining({ name: 'summary', active_version: 1, versions: 1 }),
      ])
      ids[1] = list.json[0].active_id
      const sent = await turnOn(b, '첫 질문')
      expect(sent.messages[0]!.content).toContain('상담 도우미')
      expect(sent.model).toBe('gpt-4o')
    })

    test('a new version is max + 1, active, and the next turn on BOTH instances uses it with its own parameters', async () => {
      const created = await admin('POST', '/admin/prompts', {
        name: 'default',
        system_prompt: '버전 2입니다. {{user_name_vocative}} 오늘은 {{today}}.',
        description: 'v2',
        model: 'gpt-4o-mini',
        temperature: 0.7,
        max_tokens: 123,
      })
      expect(created.status).toBe(201)
      expect(created.json).toMatchObject({
        name: 'default',
        version: 2,
        is_active: true,
        model: 'gpt-4o-mini',
      })
      ids[2] = created.json.id
      const onA = await turnOn(a, '두 번째 질문')
      expect(onA.messages[0]!.content).toStartWith('버전 2입니다.')
      expect(onA.messages[0]!.content).not.toContain('{{')
      expect({ model: onA.model, temperature: onA.temperature, max_tokens: onA.max_tokens }).toEqual({
        model: 'gpt-4o-mini',
        temperature: 0.7,
        max_tokens: 123,
      })
      // b cached v1 in the first test: the change must reach it (NOTIFY on PostgreSQL, the expiry on SQLite).
      await waitFor(async () => (await b.kbot.prompts.active('default'))?.version === 2, {
        what: 'b sees v2',
        ...spread(),
      })
      expect((await turnOn(b, '세 번째 질문')).messages[0]!.content).toStartWith('버전 2입니다.')
    })

    test('activating v1 is the rollback, on both instances', async () => {
      b.kbot.prompts.invalidate()
      expect((await b.kbot.prompts.active('default'))?.version).toBe(2) // b's cache is fresh: only NOTIFY can beat it
      const res = await admin('POST', `/admin/prompts/${ids[1]}/activate`)
      expect(res.status).toBe(200)
      expect(res.json).toMatchObject({ version: 1, is_active: true })
      const shown = await admin('GET', '/admin/prompts/default')
      expect(shown.json.active.version).toBe(1)
      expect(shown.json.versions.map((p: Row) => [p.version, p.is_active])).toEqual([
        [2, false],
        [1, true],
      ])
      await waitFor(async () => (await b.kbot.prompts.active('default'))?.version === 1, {
        what: 'b rolls back',
        ...spread(),
      })
      const sent = await turnOn(b, '네 번째 질문')
      expect(sent.messages[0]!.content).toContain('상담 도우미')
      expect(sent.model).toBe('gpt-4o')
    })

    test('activate: false keeps the active version; max + 1 holds when no version is active', async () => {
      const draft = await admin('POST', '/admin/prompts', {
        name: 'default',
        system_prompt: '초안',
        activate: false,
      })
      expect(draft.json).toMatchObject({ version: 3, is_active: false })
      expect((await activeRows('default')).map((r) => Number(r.version))).toEqual([1])
      const one = await admin('POST', '/admin/prompts', {
        name: 'draft-only',
        system_prompt: 'a',
        activate: false,
      })
      const two = await admin('POST', '/admin/prompts', {
        name: 'draft-only',
        system_prompt: 'b',
        activate: false,
      })
      expect([one.json.version, two.json.version]).toEqual([1, 2])
      const list = await admin('GET', '/admin/prompts')
      expect(list.json.find((p: Row) => p.name === 'draft-only')).toMatchObject({
        active_version: null,
        versions: 2,
      })
    })

    test('two activations at once: exactly one active version, enforced by the database', async () => {
      // Two instances on PostgreSQL. Two SQLite stores in ONE process would block each other's event loop inside
      // busy_timeout (bun:sqlite is synchronous), so there both go through one instance; the CLI test races two
      // real processes on one SQLite file.
      const other = dialect === 'postgres' ? b : a
      for (let round = 0; round < 5; round++) {
        const [x, y] = await Promise.all([
          call(a, 'POST', `/admin/prompts/${ids[1]}/activate`, { token: TOKEN }),
          call(other, 'POST', `/admin/prompts/${ids[2]}/activate`, { token: TOKEN }),
        ])
        expect([x.status, y.status]).toEqual([200, 200])
        const active = await activeRows('default')
        expect(active.length).toBe(1)
        expect([1, 2]).toContain(Number(active[0]!.version))
      }
      // The partial unique index refuses a second active row even from SQL that skips the service.
      await expect(
        a.db.store.db.query('update prompttemplate set is_active = $1 where name = $2', [true, 'default']),
      ).rejects.toThrow()
      expect((await activeRows('default')).length).toBe(1)
    })
  })
}
