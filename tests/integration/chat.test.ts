import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Dialect } from '../../src/store/db.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { type ServeProcess, startServe } from '../helpers/proc.ts'
import { waitFor } from '../helpers/wait.ts'

const ROOT = join(import.meta.dir, '..', '..')
type Row = Record<string, any>

/** 12 paragraphs of ~340 characters: more than 3 bubbles of 1,000, so the rest waits for 자세히. */
const LONG = Array.from({ length: 12 }, (_, i) => `${i + 1}번째 문단이에요. `.repeat(30).trim()).join('\n\n')

/** Runs `kbot chat` as a real process with `input` piped to its standard input. */
async function chat(env: Record<string, string>, args: string[], input: string) {
  const proc = Bun.spawn(['bun', join(ROOT, 'cli/index.ts'), 'chat', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdin: new TextEncoder().encode(input),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const killer = setTimeout(() => proc.kill('SIGKILL'), 50_000)
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearTimeout(killer)
  return { code, out, err }
}

for (const dialect of await testDialects()) {
  describe(`kbot chat (${dialect})`, () => {
    let db: TestDb
    let ai: FakeOpenAI
    let dir: string
    let serve: ServeProcess | null = null
    let env: Record<string, string>

    beforeAll(async () => {
      db = await createTestDb(dialect as Dialect, `chat-${dialect}`)
      ai = startFakeOpenAI()
      ai.setDefault((req) => {
        const last = req.body.messages.at(-1)?.content ?? ''
        if (last.includes('멈춤')) return { hang: true }
        return { content: last.includes('길게') ? LONG : `답변: ${last}` }
      })
      dir = mkdtempSync(join(tmpdir(), 'kbot-chat-'))
      // No settle wait before the callback: the local receiver does not race the ack as Kakao's does.
      // A short shutdown grace: the Ctrl-C test stops a kbot whose model call hangs.
      writeFileSync(
        join(dir, 'config.toml'),
        '[kakao]\ncallback_settle_ms = 0\n[worker]\nshutdown_grace_ms = 300\n',
      )
      env = {
        DATABASE_URL: db.url,
        OPENAI_BASE_URL: ai.url,
        OPENAI_API_KEY: 'test-key',
        KBOT_CONFIG: join(dir, 'config.toml'),
      }
    })
    afterAll(async () => {
      if (serve) {
        serve.kill('SIGTERM')
        await serve.exited
      }
      // Optional chaining: a beforeAll that failed half-way must still let the rest be cleaned up.
      ai?.close()
      await db?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const user = (kakaoUserId: string) =>
      db.store.db
        .query<Row>('select * from appuser where kakao_user_id = $1', [kakaoUserId])
        .then((r) => r[0])
    const tasks = async (kakaoUserId: string) =>
      db.store.db.query<Row>(
        'select t.* from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1 order by t.created_at',
        [kakaoUserId],
      )

    test('a session: welcome, a name, a question answered through the callback, 자세히 by number, /quit', async () => {
      const input = [
        '내 이름은 민수야',
        '오늘 날씨 어때?',
        '길게 설명해 줘',
        '1',
        '/quit',
        '들리지 않아야 할 말',
      ].join('\n')
      const r = await chat(env, ['--user', 'chat-minsu'], `${input}\n`)
      expect(r.err).toContain('kbot chat: started kbot at http://127.0.0.1:')
      expect(r.err).toContain('you are user chat-minsu of bot kbot-chat')
      expect(r.code).toBe(0)
      const lines = r.out.split('\n')
      expect(lines.slice(0, 6)).toEqual([
        '봇> 안녕하세요, 반가워요! 어떻게 불러 드리면 좋을까요? 이름을 알려 주세요.',
        '나> 내 이름은 민수야',
        '봇> 반가워요! 앞으로 민수라고 불러 드릴게요.',
        '나> 오늘 날씨 어때?',
        '(AI가 답변을 생성하고 있어요!)',
        '봇> 답변: 오늘 날씨 어때?',
      ])
      expect(lines[6]).toBe('나> 길게 설명해 줘')
      expect(lines[7]).toBe('(AI가 답변을 생성하고 있어요!)')
      // The long answer: three bubbles, then 자세히 numbered; "1" picks it and the rest follows.
      const more = lines.indexOf('[1] 자세히')
      expect(more).toBeGreaterThan(7)
      expect(lines.slice(8, more).filter((l) => l.startsWith('봇> '))).toHaveLength(3)
      expect(lines[more + 1]).toBe('나> 1')
      const rest = lines.slice(more + 2, lines.indexOf('나> /quit')).join('\n')
      expect(rest).toStartWith('봇> ')
      expect(rest).toContain('12번째 문단이에요.')
      expect(r.out).not.toContain('들리지 않아야')
      expect(r.out.trimEnd().endsWith('나> /quit')).toBe(true)

      // What kbot stored: the name, and two AI tasks whose answers went through the callback.
      expect((await user('chat-minsu'))?.name).toBe('민수')
      const done = await tasks('chat-minsu')
      expect(done.map((t) => [t.status, t.callback_status])).toEqual([
        ['completed', 'sent'],
        ['completed', 'sent'],
      ])
      expect(done.every((t) => String(t.callback_url).startsWith('http://127.0.0.1:'))).toBe(true)
    })

    test('--json: one JSON line per reply; a known user is greeted by name; the derived user id is stable', async () => {
      const r = await chat(env, ['--json'], '내 이름은 지우야\n안녕\n')
      expect(r.code).toBe(0)
      const id = /you are user (kbot-chat-[0-9a-f]{16}) /.exec(r.err)?.[1]
      expect(id).toBeDefined()
      const replies = r.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      expect(replies.map((x) => x.via)).toEqual(['welcome', 'inline', 'callback'])
      expect(replies[1].texts).toEqual(['반가워요! 앞으로 지우라고 불러 드릴게요.'])
      expect(replies[2]).toMatchObject({
        waiting: 'AI가 답변을 생성하고 있어요!',
        texts: ['답변: 안녕'],
        quickReplies: [],
        response: { version: '2.0', template: { outputs: [{ simpleText: { text: '답변: 안녕' } }] } },
      })
      const again = await chat(env, ['--json'], '')
      expect(again.code).toBe(0)
      expect(again.err).toContain(`you are user ${id} `)
      expect(JSON.parse(again.out.trim())).toMatchObject({
        via: 'welcome',
        texts: ['다시 찾아 주셔서 반가워요, 지우 님! 오늘은 무엇을 도와드릴까요?'],
      })
      expect((await user(id!))?.name).toBe('지우')
    })

    test('--no-callback answers inline and --url talks to a running kbot serve (refused callback → inline)', async () => {
      const inline = await chat(env, ['--no-callback', '--user', 'chat-inline'], '/이름 하나\n질문 하나\n')
      expect(inline.code).toBe(0)
      expect(inline.out).toContain('나> 질문 하나\n봇> 답변: 질문 하나\n')
      expect(inline.out).not.toContain('생성하고 있어요')
      expect((await tasks('chat-inline')).map((t) => t.callback_status)).toEqual(['inline'])

      serve = await startServe({ env, label: 'chat' })
      const r = await chat(env, ['--url', serve.url, '--user', 'chat-remote'], '/이름 원격\n원격 질문\n')
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/must allow http:\/\/127\.0\.0\.1:\d+ in CALLBACK_ALLOWED_HOSTS/)
      expect(r.err).not.toContain('started kbot')
      expect(r.out).toContain('나> 원격 질문\n봇> 답변: 원격 질문\n')
      const remote = await tasks('chat-remote')
      expect(remote.map((t) => [t.status, t.callback_status])).toEqual([['completed', 'inline']])
    })

    test('Ctrl-C while an answer is awaited ends the chat at once, cleanly', async () => {
      const proc = Bun.spawn(['bun', join(ROOT, 'cli/index.ts'), 'chat', '--user', 'chat-sigint'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'pipe',
      })
      let out = ''
      const reading = (async () => {
        const decoder = new TextDecoder()
        for await (const chunk of proc.stdout) out += decoder.decode(chunk, { stream: true })
      })()
      proc.stdin.write('/이름 인터\n멈춤\n')
      await proc.stdin.flush()
      await waitFor(() => out.includes('나> 멈춤\n(AI가 답변을 생성하고 있어요!)'), {
        timeoutMs: 20_000,
        what: 'the waiting text',
      })
      proc.kill('SIGINT')
      expect(await proc.exited).toBe(0)
      await reading
      expect(out.trimEnd().endsWith('(AI가 답변을 생성하고 있어요!)')).toBe(true)
    })

    test('bad options and a server that cannot be reached are a one-line reason and exit 1', async () => {
      for (const [args, reason] of [
        [['--url', 'localhost:8000'], '--url must be http(s)://host[:port], got "localhost:8000"'],
        [['--user', ' '], '--user must be 1 to 200 characters'],
        [['--log-level', 'loud'], '--log-level must be one of fatal|error|warn|info|debug|trace|silent'],
      ] as const) {
        const bad = await chat(env, [...args], 'x\n')
        expect(bad.code).toBe(1)
        expect(bad.out).toBe('')
        expect(bad.err.trim()).toStartWith(`kbot: BAD_REQUEST: ${reason}`)
      }
      const r = await chat(env, ['--url', 'http://127.0.0.1:1'], 'x\n')
      expect(r.code).toBe(1)
      expect(r.err.trim().split('\n').at(-1)).toMatch(/^kbot: .*cannot reach kbot at http:\/\/127\.0\.0\.1:1/)
    })
  })
}
