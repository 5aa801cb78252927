import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { Dialect } from '../../src/store/db.ts'
import { type Answer, call } from '../helpers/admin.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'

type Row = Record<string, any>
const TOKEN = 'admin-token-for-tests'
const NO_SUCH = '01900000-0000-7000-8000-000000000000'

/** Every admin route with a request that would succeed with the right token. */
const ROUTES: [string, string, unknown][] = [
  ['GET', '/admin/health', undefined],
  ['GET', '/admin/ai-tasks', undefined],
  ['POST', `/admin/ai-tasks/${NO_SUCH}/retry`, undefined],
  ['GET', '/admin/prompts', undefined],
  ['POST', '/admin/prompts', { name: 'auth-probe', system_prompt: 'x' }],
  ['GET', '/admin/prompts/default', undefined],
  ['POST', `/admin/prompts/${NO_SUCH}/activate`, undefined],
]

for (const dialect of await testDialects()) {
  describe(`admin API (${dialect})`, () => {
    let model: FakeOpenAI
    let k: TestKbot
    let open: TestKbot

    beforeAll(async () => {
      model = startFakeOpenAI({ status: 500 })
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `admin-${dialect}`,
        env: { OPENAI_BASE_URL: model.url, ADMIN_TOKEN: TOKEN, DEBUG: 'true', TASK_MAX_ATTEMPTS: '1' },
      })
      // A second server on the same database with no ADMIN_TOKEN: every admin route must be closed.
      open = await startTestKbot({ dialect: dialect as Dialect, label: `admin-open-${dialect}`, db: k.db })
    })
    afterAll(async () => {
      await open.stop()
      await k.stop()
      model.close()
    })

    const q = (sql: string, p: unknown[] = []) => k.db.store.db.query<Row>(sql, p)
    const written = async () =>
      (
        await q(`select (select count(*) from prompttemplate) as prompts, (select count(*) from eventlog) as events,
                        (select count(*) from aiprocessingtask where status = 'pending' and kind <> 'job') as pending`)
      )[0]

    test.each(ROUTES)(
      '%s %s: 401 without a token, with a wrong one, and when none is configured',
      async (m, p, b) => {
        const before = await written()
        const cases: [TestKbot, string | null][] = [
          [k, null],
          [k, 'wrong'],
          [k, `${TOKEN}x`],
          [open, TOKEN],
        ]
        for (const [server, token] of cases) {
          const res = await call(server, m, p, { token, body: b })
          expect(res.status).toBe(401)
          expect(res.json.error.code).toBe('UNAUTHORIZED')
        }
        expect(await written()).toEqual(before)
        const right = await call(k, m, p, { token: TOKEN, body: b })
        expect(right.status).not.toBe(401)
        expect(right.status).toBeLessThan(500)
      },
    )

    test('GET /admin/health: database, workers, queue by status, model, callbacks, uptime, version', async () => {
      const res = await call(k, 'GET', '/admin/health', { token: TOKEN })
      expect(res.status).toBe(200)
      expect(res.json).toMatchObject({
        status: 'ok',
        version: expect.any(String),
        uptime_s: expect.any(Number),
        database: { ok: true, dialect, latency_ms: expect.any(Number) },
        workers: { size: 3, busy: expect.any(Number), running: true },
        ai: { configured: true, model: 'gpt-4o' },
        queue: { by_status: { pending: expect.any(Number), failed: expect.any(Number) } },
        callbacks_last_hour: expect.any(Object),
      })
    })

    test('with the database gone, /admin/health still answers: 503, degraded, with the reason', async () => {
      const down = await startTestKbot({
        dialect: dialect as Dialect,
        label: `admin-down-${dialect}`,
        env: { ADMIN_TOKEN: TOKEN, WORKER_CONCURRENCY: '0' },
        db: k.db,
      })
      await down.kbot.store.close()
      const res = await call(down, 'GET', '/admin/health', { token: TOKEN })
      expect(res.status).toBe(503)
      expect(res.json).toMatchObject({
        status: 'degraded',
        database: { ok: false },
        queue: null,
        version: expect.any(String),
      })
      await down.stop().catch(() => {})
    })

    test('a failed task: retry → pending again with an honest note; not failed → 409; unknown or bad id → 404', async () => {
      const turn = await k.post('/skill', kakaoPayload({ utterance: '질문이에요', userId: 'retry-user' }))
      expect(turn.status).toBe(200)
      const [task] = await q(`select id from aiprocessingtask order by created_at desc limit 1`)
      let failed: Answer | null = null
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await Bun.sleep(20)) {
        failed = await call(k, 'GET', '/admin/ai-tasks?status=failed', { token: TOKEN })
        if (failed.json.tasks.some((t: Row) => t.task_id === task!.id)) break
      }
      expect(failed!.json.tasks.map((t: Row) => t.task_id)).toContain(task!.id)
      expect(failed!.json.total).toBeGreaterThanOrEqual(1)

      model.setDefault({ content: '다시 한 답변' })
      const retried = await call(k, 'POST', `/admin/ai-tasks/${task!.id}/retry`, { token: TOKEN })
      expect(retried.status).toBe(200)
      expect(retried.json.delivery).toBe('next-message')
      expect(retried.json.note).toContain('답변 확인')
      expect(retried.json.task).toMatchObject({ task_id: task!.id, status: 'pending', attempts: 0 })
      const events = await q(`select detail from eventlog where type = 'task_retried'`)
      expect(events.length).toBe(1)

      const again = await call(k, 'POST', `/admin/ai-tasks/${task!.id}/retry`, { token: TOKEN })
      expect(again.status).toBe(409)
      expect(again.json.error.code).toBe('CONFLICT')
      expect((await call(k, 'POST', `/admin/ai-tasks/${NO_SUCH}/retry`, { token: TOKEN })).status).toBe(404)
      expect((await call(k, 'POST', '/admin/ai-tasks/not-an-id/retry', { token: TOKEN })).status).toBe(404)
      expect((await q(`select id from eventlog where type = 'task_retried'`)).length).toBe(1)
    })

    test('GET /admin/ai-tasks pages newest first', async () => {
      for (let i = 0; i < 3; i++)
        await k.post('/skill', kakaoPayload({ utterance: `페이지 ${i}`, userId: 'pager' }))
      const all = await call(k, 'GET', '/admin/ai-tasks?limit=500', { token: TOKEN })
      const first = await call(k, 'GET', '/admin/ai-tasks?limit=2', { token: TOKEN })
      const second = await call(k, 'GET', '/admin/ai-tasks?limit=2&offset=2', { token: TOKEN })
      expect(first.json).toMatchObject({ limit: 2, offset: 0, total: all.json.total })
      const ids = all.json.tasks.map((t: Row) => t.task_id)
      expect([...first.json.tasks, ...second.json.tasks].map((t: Row) => t.task_id)).toEqual(ids.slice(0, 4))
      const created = all.json.tasks.map((t: Row) => t.created_at)
      expect(created).toEqual([...created].sort().reverse())
    })

    test.each([
      ['malformed JSON', '{"name": ', undefined, 'BAD_REQUEST'],
      ['an empty body', '', undefined, 'BAD_REQUEST'],
      ['a JSON array', '[]', { '(body)': 'must be a JSON object' }, 'BAD_REQUEST'],
      ['name missing', { system_prompt: 'x' }, { name: 'is required' }, 'BAD_REQUEST'],
      [
        'system_prompt a number',
        { name: 'a', system_prompt: 3 },
        { system_prompt: 'must be a string' },
        'BAD_REQUEST',
      ],
      [
        'system_prompt blank',
        { name: 'a', system_prompt: '  ' },
        { system_prompt: 'must not be empty' },
        'BAD_REQUEST',
      ],
      [
        'a name with spaces',
        { name: 'a b', system_prompt: 'x' },
        { name: expect.any(String) },
        'BAD_REQUEST',
      ],
      [
        'temperature out of range and max_tokens fractional',
        { name: 'a', system_prompt: 'x', temperature: 3, max_tokens: 1.5 },
        { temperature: 'must be at most 2', max_tokens: 'must be a whole number' },
        'BAD_REQUEST',
      ],
      [
        'activate a string',
        { name: 'a', system_prompt: 'x', activate: 'yes' },
        { activate: expect.any(String) },
        'BAD_REQUEST',
      ],
      [
        'an unknown field',
        { name: 'a', system_prompt: 'x', temprature: 1 },
        { temprature: 'unknown field' },
        'BAD_REQUEST',
      ],
      [
        'an unknown variable',
        { name: 'a', system_prompt: '{{user_name}} {{user_age}}' },
        { system_prompt: expect.stringContaining('{{user_age}}; known: {{user_name}}') },
        'BAD_REQUEST',
      ],
      ['an oversize body', { name: 'a', system_prompt: 'x'.repeat(200_000) }, undefined, 'PAYLOAD_TOO_LARGE'],
    ])(
      'POST /admin/prompts with %s: 4xx, field by field, nothing written',
      async (_l, body, fields, code) => {
        const before = await written()
        const res = await call(k, 'POST', '/admin/prompts', { token: TOKEN, body })
        expect(res.json.error.code).toBe(code)
        expect(res.status).toBe(code === 'PAYLOAD_TOO_LARGE' ? 413 : 400)
        if (fields) expect(res.json.error.fields).toMatchObject(fields)
        expect(await written()).toEqual(before)
      },
    )

    test.each([
      ['status=done', { status: expect.stringContaining('pending, processing') }],
      ['limit=0', { limit: 'must be at least 1' }],
      ['limit=abc&offset=-1', { limit: 'must be a whole number', offset: 'must be a whole number' }],
      ['page=2', { page: 'unknown field' }],
    ])('GET /admin/ai-tasks?%s: 400 field by field', async (query, fields) => {
      const res = await call(k, 'GET', `/admin/ai-tasks?${query}`, { token: TOKEN })
      expect(res.status).toBe(400)
      expect(res.json.error.fields).toMatchObject(fields)
    })

    test('unknown routes are a JSON 404, wrong methods a JSON 405 with Allow, bad ids a 404; nothing written', async () => {
      const before = await written()
      const notFound = await call(k, 'GET', '/admin/nope', { token: TOKEN })
      expect(notFound.status).toBe(404)
      expect(notFound.json.error.code).toBe('NOT_FOUND')
      for (const [m, p] of [
        ['DELETE', '/admin/prompts'],
        ['PUT', '/admin/prompts/default'],
        ['GET', `/admin/ai-tasks/${NO_SUCH}/retry`],
        ['POST', '/admin/health'],
      ] as const) {
        const res = await call(k, m, p, { token: TOKEN })
        expect(res.status).toBe(405)
        expect(res.json.error.code).toBe('METHOD_NOT_ALLOWED')
        expect(res.headers.get('allow')).toBeTruthy()
      }
      expect((await call(k, 'POST', '/admin/prompts/not-a-uuid/activate', { token: TOKEN })).status).toBe(404)
      expect((await call(k, 'POST', `/admin/prompts/${NO_SUCH}/activate`, { token: TOKEN })).status).toBe(404)
      expect((await call(k, 'GET', '/admin/prompts/no-such-prompt', { token: TOKEN })).status).toBe(404)
      expect(await written()).toEqual(before)
    })

    test('/docs/json is a valid OpenAPI 3 document with every route and its schemas', async () => {
      const res = await call(k, 'GET', '/docs/json')
      expect(res.status).toBe(200)
      const result = await new Validator().validate(res.json)
      expect(result.errors ?? []).toEqual([])
      expect(result.valid).toBe(true)
      const ops = Object.entries(res.json.paths as Record<string, Record<string, Row>>).flatMap(
        ([path, methods]) =>
          Object.entries(methods).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
      )
      const routes = ops.map((o) => o.route)
      // Every route the app serves, except the docs page, its JSON and its assets, and the console (hidden).
      const served = k.kbot.app.routes
        .filter((r) => !r.path.startsWith('/docs') && !r.path.startsWith('/console'))
        .map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, '{$1}')}`)
      expect(routes.sort()).toEqual([...new Set(served)].sort())
      // ops 17, obs /metrics and /admin/usage, safety /admin/safety and /test-safety, the console's 6 admin routes.
      expect(routes.length).toBe(27)
      for (const { route, op } of ops) {
        expect(Object.keys(op.responses ?? {}).length).toBeGreaterThan(0)
        if (route === 'GET /metrics') continue // Prometheus text, not JSON
        const ok = op.responses['200'] ?? op.responses['201']
        expect({ route, schema: Boolean(ok?.content?.['application/json']?.schema) }).toEqual({
          route,
          schema: true,
        })
        if (route.startsWith('POST') && !/retry|activate|forget/.test(route))
          expect({ route, body: Boolean(op.requestBody?.content?.['application/json']?.schema) }).toEqual({
            route,
            body: true,
          })
      }
    })

    test('/docs loads its viewer from this server: no https:// script, and the assets are served', async () => {
      const res = await k.kbot.app.handle(new Request('http://localhost/docs'))
      const html = await res.text()
      expect(res.status).toBe(200)
      const sources = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="([^"]+)"/g)].map((m) => m[1])
      expect(sources.length).toBeGreaterThanOrEqual(2)
      for (const src of sources) expect(src).toStartWith('/docs/assets/')
      expect(html).not.toMatch(/https?:\/\//)
      expect(html).toContain('"validatorUrl":null')
      for (const src of sources) {
        const asset = await k.kbot.app.handle(new Request(`http://localhost${src}`))
        expect(asset.status).toBe(200)
        expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(10_000)
      }
    })
  })
}
