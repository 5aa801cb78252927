import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

const ROOT = join(import.meta.dir, '..', '..')
type Row = Record<string, any>

/** `kbot …` as a real process against a database; resolves with its exit code and output. */
async function kbot(url: string, ...args: string[]) {
  const proc = Bun.spawn(['bun', 'cli/index.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: url },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, out, err, json: () => JSON.parse(out) }
}

for (const dialect of await testDialects()) {
  describe(`kbot prompts and kbot tasks as processes (${dialect})`, () => {
    let model: FakeOpenAI
    let k: TestKbot
    let url: string
    const dir = mkdtempSync(join(tmpdir(), 'kbot-ops-cli-'))
    const ids: Record<number, string> = {}

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '답변' })
      // A running server on the same database: CLI changes must reach it.
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `ops-cli-${dialect}`,
        env: { OPENAI_BASE_URL: model.url, TASK_MAX_ATTEMPTS: '1' },
      })
      url = k.db.url
    })
    afterAll(async () => {
      await k.stop()
      model.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const q = (sql: string, p: unknown[] = []) => k.db.store.db.query<Row>(sql, p)

    test('prompts list / create (--text, --file, --no-activate) / show, with --json and tables', async () => {
      const list = await kbot(url, 'prompts', 'list', '--json')
      expect(list.code).toBe(0)
      // The memory migration seeds the summary prompt beside the default.
      expect(list.json()).toEqual([
        expect.objectContaining({ name: 'default', active_version: 1, versions: 1 }),
        expect.objectContaining({ name: 'summary', active_version: 1, versions: 1 }),
      ])
      ids[1] = list.json()[0].active_id

      const created = await kbot(
        url,
        'prompts',
        'create',
        'default',
        '--text',
        'CLI v2 {{user_name_vocative}}',
        '-d',
        'cli',
        '--json',
      )
      expect(created.code).toBe(0)
      expect(created.json()).toMatchObject({ version: 2, is_active: true, description: 'cli' })
      ids[2] = created.json().id

      const file = join(dir, 'v3.md')
      writeFileSync(file, '파일에서 온 v3\n두 번째 줄 {{today}}')
      const draft = await kbot(
        url,
        ...['prompts', 'create', 'default', '--file', file, '--model', 'gpt-4o-mini'],
        ...['--temperature', '0.4', '--max-tokens', '300', '--no-activate', '--json'],
      )
      expect(draft.code).toBe(0)
      expect(draft.json()).toMatchObject({
        version: 3,
        is_active: false,
        model: 'gpt-4o-mini',
        temperature: 0.4,
        max_tokens: 300,
      })
      ids[3] = draft.json().id

      const show = await kbot(url, 'prompts', 'show', 'default', '--json')
      expect(show.json().active.version).toBe(2)
      expect(show.json().versions.map((p: Row) => p.version)).toEqual([3, 2, 1])
      const table = await kbot(url, 'prompts', 'list')
      expect(table.out).toMatch(/^name\s+active\s+versions/)
      expect(table.out).toMatch(/default\s+v2\s+3/)
      const rows = await q('select version, is_active from prompttemplate where name = $1 order by version', [
        'default',
      ])
      expect(rows.map((r) => [Number(r.version), Boolean(Number(r.is_active))])).toEqual([
        [1, false],
        [2, true],
        [3, false],
      ])
    })

    test('activate from the CLI reaches the running server, whose next model call uses that version', async () => {
      k.kbot.prompts.invalidate()
      expect((await k.kbot.prompts.active('default'))?.version).toBe(2)
      const res = await kbot(url, 'prompts', 'activate', ids[3]!, '--json')
      expect(res.code).toBe(0)
      expect(res.json()).toMatchObject({ version: 3, is_active: true })
      // NOTIFY from the CLI process on PostgreSQL; the cache expiry (5 s) on SQLite.
      await waitFor(async () => (await k.kbot.prompts.active('default'))?.version === 3, {
        timeoutMs: dialect === 'postgres' ? 3000 : 10_000,
        what: 'the server sees v3',
      })
      const before = model.requests.length
      await k.post('/skill', kakaoPayload({ utterance: 'CLI 이후 질문', userId: 'cli-user' }))
      await waitFor(() => model.requests.length > before)
      const sent = model.requests.at(-1)!.body
      expect(sent.messages[0]!.content).toStartWith('파일에서 온 v3')
      expect([sent.model, sent.temperature, sent.max_tokens]).toEqual(['gpt-4o-mini', 0.4, 300])
    })

    test('two activations at once from two processes leave exactly one active version', async () => {
      for (let round = 0; round < 2; round++) {
        const [x, y] = await Promise.all([
          kbot(url, 'prompts', 'activate', ids[1]!),
          kbot(url, 'prompts', 'activate', ids[2]!),
        ])
        expect([x.code, y.code, x.err, y.err]).toEqual([0, 0, '', ''])
        const active = await q('select version from prompttemplate where name = $1 and is_active = $2', [
          'default',
          true,
        ])
        expect(active.length).toBe(1)
      }
    })

    test('diff, and refusals with a one-line reason and exit 1', async () => {
      const diff = await kbot(url, 'prompts', 'diff', 'default', '2', '3', '--json')
      expect(diff.code).toBe(0)
      expect(diff.json().lines).toEqual([
        { op: '-', text: 'CLI v2 {{user_name_vocative}}' },
        { op: '+', text: '파일에서 온 v3' },
        { op: '+', text: '두 번째 줄 {{today}}' },
      ])
      expect(diff.json().params.map((p: Row) => p.field)).toEqual([
        'description',
        'model',
        'temperature',
        'max_tokens',
      ])
      const human = await kbot(url, 'prompts', 'diff', 'default', '2', '3')
      expect(human.out).toContain('+파일에서 온 v3')

      const before = await q('select count(*) as n from prompttemplate')
      const refusals = await Promise.all([
        kbot(url, 'prompts', 'create', 'default', '--text', '{{user_nmae}}님 안녕하세요'),
        kbot(url, 'prompts', 'create', 'default'),
        kbot(url, 'prompts', 'create', 'default', '--text', 'x', '--temperature', 'hot'),
        kbot(url, 'prompts', 'create', 'default', '--file', join(dir, 'missing.md')),
        kbot(url, 'prompts', 'activate', 'not-an-id'),
        kbot(url, 'prompts', 'show', 'no-such-prompt'),
        kbot(url, 'prompts', 'diff', 'default', '1', '9'),
      ])
      for (const r of refusals) {
        expect(r.code).toBe(1)
        expect(r.out).toBe('')
        expect(r.err.trim().split('\n').length).toBe(1)
        expect(r.err).toStartWith('kbot: ')
      }
      expect(refusals[0]!.err).toContain('unknown variable {{user_nmae}}; known: {{user_name}}')
      expect(refusals[2]!.err).toContain('temperature: must be a number')
      expect(await q('select count(*) as n from prompttemplate')).toEqual(before)
    })

    test('tasks: list --limit, retry <id>, retry --failed --since, and bad options', async () => {
      model.setDefault({ status: 400 })
      for (const utterance of ['실패 하나', '실패 둘'])
        await k.post('/skill', kakaoPayload({ utterance, userId: 'cli-fail' }))
      await waitFor(
        async () => (await q(`select id from aiprocessingtask where status = 'failed'`)).length === 2,
      )
      model.setDefault({ content: '답변' })
      const failed = await kbot(url, 'tasks', 'list', '--status', 'failed', '--limit', '1', '--json')
      expect(failed.code).toBe(0)
      expect(failed.json()).toMatchObject({ total: 2, limit: 1, offset: 0 })
      const one = failed.json().tasks[0].task_id
      const retried = await kbot(url, 'tasks', 'retry', one, '--json')
      expect(retried.code).toBe(0)
      expect(retried.json()).toMatchObject({
        delivery: 'next-message',
        task: { task_id: one, status: 'pending' },
      })
      const rest = await kbot(url, 'tasks', 'retry', '--failed', '--since', '1h', '--json')
      expect(rest.code).toBe(0)
      expect(rest.json().retried.map((r: Row) => r.task.status)).toEqual(['pending'])
      expect(rest.json().retried[0].task.task_id).not.toBe(one)
      const none = await kbot(url, 'tasks', 'retry', '--failed')
      expect(none.out.trim()).toBe('no failed tasks')

      const bad = await Promise.all([
        kbot(url, 'tasks', 'retry', '--failed', '--since', 'yesterday'),
        kbot(url, 'tasks', 'retry'),
        kbot(url, 'tasks', 'list', '--limit', '0'),
        kbot(url, 'tasks', 'retry', one),
      ])
      expect(bad.map((r) => r.code)).toEqual([1, 1, 1, 1])
      expect(bad[0]!.err).toContain('--since must be like 30m, 24h, 7d')
      expect(bad[2]!.err).toContain('limit: must be at least 1')
      expect(bad[3]!.err).toContain('only failed tasks can be retried')
    })

    test('--help shows examples; migrate --status --json', async () => {
      for (const args of [
        ['prompts', 'create', '--help'],
        ['tasks', 'retry', '--help'],
        ['prompts', 'diff', '--help'],
      ]) {
        const help = await kbot(url, ...args)
        expect(help.code).toBe(0)
        expect(help.out).toMatch(/Examples?:\n {2}kbot /)
      }
      const status = await kbot(url, 'migrate', '--status', '--json')
      expect(status.code).toBe(0)
      expect(status.json().migrations.every((m: Row) => m.state === 'applied')).toBe(true)
    })
  })
}
