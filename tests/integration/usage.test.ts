import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { usageRoutes } from '../../src/http/usage-routes.ts'
import { usageReport } from '../../src/services/usage.ts'
import { currentConversation } from '../../src/store/conversations.ts'
import type { Db, Dialect } from '../../src/store/db.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { upsertUser } from '../../src/store/users.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'

const ROOT = join(import.meta.dir, '..', '..')
const TOKEN = 'usage-admin-token'

/** One promptlog row (and its user, conversation, message) at a given time. */
async function seed(db: Db, row: { user: string; model: string; at: string; prompt?: [string, number] }) {
  const { user } = await upsertUser(db, { botId: 'b', kakaoUserId: row.user })
  const { conversation } = await currentConversation(db, user.id, 30)
  const msg = await insertMessage(db, { convId: conversation.id, role: 'assistant', content: '답' })
  await db.query(
    `insert into promptlog (msg_id, model, messages, prompt_name, prompt_version, prompt_tokens, cached_tokens,
       completion_tokens, total_tokens, latency_ms, cost_usd, created_at)
     values ($1, $2, $3, $4, $5, 1000, 400, 200, 1200, 800, $6, $7)`,
    [
      msg.id,
      row.model,
      [],
      row.prompt?.[0] ?? null,
      row.prompt?.[1] ?? null,
      row.model === 'gpt-4o' ? 0.004 : 0.00024,
      new Date(row.at),
    ],
  )
  return user.id
}

for (const dialect of await testDialects()) {
  describe(`usage and cost (${dialect})`, () => {
    let t: TestDb
    let dir: string
    const users = { a: '', b: '' }
    const config = () => loadConfig({ cwd: dir, env: { ADMIN_TOKEN: TOKEN, DATABASE_URL: t.url } })

    beforeAll(async () => {
      t = await createTestDb(dialect as Dialect, `usage-${dialect}`)
      dir = mkdtempSync(join(tmpdir(), 'kbot-usage-'))
      const db = t.store.db
      users.a = await seed(db, {
        user: 'alice',
        model: 'gpt-4o',
        at: '2026-11-01T10:00:00Z',
        prompt: ['default', 1],
      })
      await seed(db, { user: 'alice', model: 'gpt-4o', at: '2026-11-01T23:59:00Z', prompt: ['default', 2] })
      users.b = await seed(db, { user: 'bob', model: 'gpt-4o-mini', at: '2026-11-02T00:30:00Z' })
      await seed(db, { user: 'bob', model: 'gpt-4o', at: '2026-11-05T00:00:00Z', prompt: ['default', 2] })
    })
    afterAll(async () => {
      await t.drop()
      rmSync(dir, { recursive: true, force: true })
    })

    test('by day: UTC days in [from, to], a bare --to date including that day', async () => {
      const r = await usageReport(t.store.db, config(), { from: '2026-11-01', to: '2026-11-02', by: 'day' })
      expect(r.rows.map((x) => [x.key, x.calls, x.promptTokens, x.cachedTokens, x.completionTokens])).toEqual(
        [
          ['2026-11-01', 2, 2000, 800, 400],
          ['2026-11-02', 1, 1000, 400, 200],
        ],
      )
      expect(r.rows[0]!.costUsd).toBeCloseTo(0.008, 12)
      expect(r.total.calls).toBe(3)
      expect(r.total.costUsd).toBeCloseTo(0.00824, 12)
      expect(r.currency).toBe('USD')
    })

    test('by model, user and prompt', async () => {
      const range = { from: '2026-11-01', to: '2026-11-30' }
      const byModel = await usageReport(t.store.db, config(), { ...range, by: 'model' })
      expect(byModel.rows.map((x) => [x.key, x.calls])).toEqual([
        ['gpt-4o', 3],
        ['gpt-4o-mini', 1],
      ])
      const byUser = await usageReport(t.store.db, config(), { ...range, by: 'user' })
      expect(byUser.rows.map((x) => [x.key, x.label, x.calls])).toEqual([
        [users.a, 'alice', 2],
        [users.b, 'bob', 2],
      ])
      const byPrompt = await usageReport(t.store.db, config(), { ...range, by: 'prompt' })
      expect(byPrompt.rows.map((x) => [x.key, x.calls])).toEqual([
        ['default v2', 2],
        ['default v1', 1],
        ['(no prompt)', 1],
      ])
    })

    test('bad input is refused with a reason', async () => {
      const bad = [
        [{ by: 'week' }, /by must be one of day, user, prompt, model/],
        [{ from: 'yesterday' }, /from must be a date/],
        [{ from: '2026-11-05', to: '2026-11-01' }, /must be before/],
        [{ since: '2026-11-01' }, /unknown option since/],
      ] as const
      for (const [input, reason] of bad)
        await expect(usageReport(t.store.db, config(), input)).rejects.toThrow(reason)
    })

    test('GET /admin/usage: admin token, same report, JSON errors', async () => {
      const app = usageRoutes({ config: config(), db: t.store.db })
      const get = async (q: string, token: string | null = TOKEN) => {
        const res = await app.handle(
          new Request(`http://localhost/admin/usage${q}`, {
            headers: token ? { authorization: `Bearer ${token}` } : {},
          }),
        )
        return { status: res.status, json: (await res.json()) as any }
      }
      expect((await get('?by=model', null)).status).toBe(401)
      const ok = await get('?from=2026-11-01&to=2026-11-30&by=model')
      expect(ok.status).toBe(200)
      expect(ok.json).toEqual(
        JSON.parse(
          JSON.stringify(
            await usageReport(t.store.db, config(), { from: '2026-11-01', to: '2026-11-30', by: 'model' }),
          ),
        ),
      )
      const bad = await get('?by=week')
      expect(bad.status).toBe(400)
      expect(bad.json.error.code).toBe('BAD_REQUEST')
      expect(bad.json.error.message).toContain('by must be one of')
    })

    test('kbot usage: a table, --json, KRW display, and a one-line reason on bad options', () => {
      const krw = join(dir, 'krw.toml')
      writeFileSync(krw, '[usage]\ncurrency = "KRW"\nkrw_per_usd = 1500\n')
      const run = (...args: string[]) => {
        const config = args[0] === 'KRW' ? { KBOT_CONFIG: krw } : {}
        const r = Bun.spawnSync(['bun', 'cli/index.ts', 'usage', ...args.filter((a) => a !== 'KRW')], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: t.url, ...config },
        })
        return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() }
      }
      const table = run('--from', '2026-11-01', '--to', '2026-11-30', '--by', 'model')
      expect(table.code).toBe(0)
      const lines = table.out.trim().split('\n')
      expect(lines[1]).toMatch(/^model\s+calls\s+prompt\s+cached\s+completion\s+cost$/)
      expect(lines.find((l) => l.startsWith('gpt-4o-mini'))).toMatch(
        /gpt-4o-mini\s+1\s+1,000\s+400\s+200\s+\$0\.0002/,
      )
      expect(lines.at(-1)).toMatch(/^total\s+4\s+4,000\s+1,600\s+800\s+\$0\.0122$/)

      const json = run('KRW', '--from', '2026-11-01', '--to', '2026-11-30', '--by', 'user', '--json')
      expect(json.code).toBe(0)
      const report = JSON.parse(json.out)
      expect(report.currency).toBe('KRW')
      expect(report.rate).toBe(1500)
      expect(report.rows.map((r: any) => [r.label, r.calls])).toEqual([
        ['alice', 2],
        ['bob', 2],
      ])
      // 0.008 USD × 1500 = 12 won
      expect(report.rows[0].cost).toBe(12)

      const bad = run('--by', 'week')
      expect(bad.code).not.toBe(0)
      expect(bad.err.trim().split('\n')).toHaveLength(1)
      const reversed = run('--from', '2026-11-05', '--to', '2026-11-01')
      expect(reversed.code).toBe(1)
      expect(reversed.err).toMatch(/^kbot: BAD_REQUEST: from .* must be before to/)
    })
  })
}
