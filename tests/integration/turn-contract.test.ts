import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { AsyncLocalStorage } from 'node:async_hooks'
import { AppError } from '../../src/errors.ts'
import { BUILTIN_PLUGINS } from '../../src/pipeline/builtins.ts'
import type { Db, Dialect } from '../../src/store/db.ts'
import { DEFAULT_MESSAGES as M } from '../../src/texts.ts'
import { registerStop } from '../helpers/cleanup.ts'
import { testDialects } from '../helpers/db.ts'
import { spyOnStatements } from '../helpers/db-spy.ts'
import { useFakes } from '../helpers/fakes.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { PROBE_PATH, probe } from '../helpers/turn-probe.ts'
import { waitFor } from '../helpers/wait.ts'

/**
 * The Kakao turn (src/kakao/turn.ts) through /skill and /welcome, promise by promise: authentication, the
 * payload, empty and over-long text, the user and their conversation, duplicate deliveries (X-Request-Id,
 * callbackUrl), the callback ack vs the inline answer, refused callbacks, the turn budget and the apology.
 * Each test asserts the exact reply, the rows written (and not written), what the pipeline saw (a probe
 * plugin first in the order), the statements sent where only they show a promise, and the log lines an
 * operator relies on. Fast on purpose: it runs first for every mutant of turn.ts (stryker.config.mjs).
 */

type Row = Record<string, any>
type Reply = { status: number; json: any }

const SECRET = 'turn-contract-secret'
/** The fixture's bot.id without its trailing "!" (KAKAO_BOT_IDS of the guarded bot). */
const BOT = '5ae9b76d7409b11ec845b746'
const PFK = 'T8x9DhjAiBrv'
const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const PROBE_ORDER = (plugins: string[]) =>
  `[pipeline]\norder = ${JSON.stringify(['turn-probe', ...plugins])}\npaths = { turn-probe = "${PROBE_PATH}" }`

const text = (t: string) => ({ version: '2.0', template: { outputs: [{ simpleText: { text: t } }] } })
const ACK = { version: '2.0', useCallback: true, data: { text: M.ack } }
const PENDING = (taskId: string) => ({
  version: '2.0',
  template: {
    outputs: [{ simpleText: { text: M.pending } }],
    quickReplies: [
      { label: M.check_label, action: 'message', messageText: M.check_label, extra: { kbot_task: taskId } },
    ],
  },
})
const refusal = (status: number, code: string, message: string) => ({
  status,
  json: { error: { code, message } },
})

/**
 * Statements as sent: whitespace collapsed, lower case. The patterns below name store functions by their SQL;
 * the fast-path test also expects each one where it must be sent (a new user, a repeat), so a rewritten
 * statement fails loudly there instead of making the "not sent" checks pass by default.
 */
const norm = (sql: string) => sql.replace(/\s+/g, ' ').trim().toLowerCase()
/** upsertUser's read (/welcome): never on /skill, where loadReturning has already looked. */
const USER_READ = /^select \* from appuser where bot_id = \$1 and kakao_user_id = \$2/
/** insertUser: a user /skill did not find. */
const USER_WRITE = /^(with u as \()?insert into appuser\b/
/** currentConversation's lookup-and-touch: when no open conversation came with a user created before. */
const CONV_BY_USER = /^update conversation set last_activity_at = .* where user_id = \$1/
/** A conversation opened (with a new user's insert, or by currentConversation after ending one). */
const FIRST_CONV = /(^|\bc as \( ?)insert into conversation\b/
const CONV_UPDATE = /\bupdate conversation\b/
/** findDuplicate: which task a repeated request id or callbackUrl belongs to. */
const FIND_DUP = /from aiprocessingtask where request_id = \$1 union all/
const ENQUEUE = /insert into (aiprocessingtask|message)\b/
const WRITE = /^(insert|update|delete|with|begin)\b/

/** What one request sent to the database, and a fault or a hook to inject into it. */
interface RequestCtx {
  sql: string[]
  fail?: Error
  before?: (sql: string) => Promise<void>
}
const inRequest = new AsyncLocalStorage<RequestCtx>()
/** Records each statement (and BEGIN of a transaction) sent on behalf of a request run in `inRequest`. */
const instrument = (db: Db) =>
  spyOnStatements(db, (sql) => {
    const ctx = inRequest.getStore()
    if (!ctx || sql === 'commit') return undefined
    if (sql === 'begin') {
      ctx.sql.push('begin')
      return undefined
    }
    const s = norm(sql)
    ctx.sql.push(s)
    if (ctx.fail) {
      const err = ctx.fail
      ctx.fail = undefined
      return Promise.reject(err)
    }
    return ctx.before?.(s)
  })

/** A request run with its statements recorded. */
async function recorded(
  call: () => Promise<Reply>,
  opts: Omit<RequestCtx, 'sql'> = {},
): Promise<Reply & { sql: string[] }> {
  const ctx: RequestCtx = { sql: [], ...opts }
  const res = await inRequest.run(ctx, call)
  return { ...res, sql: ctx.sql }
}
const matching = (sql: string[], re: RegExp) => sql.filter((s) => re.test(s)).length

/** The model behind a gate: while closed, every model request waits (a task stays `processing`). */
function startGate(target: string) {
  let opened = Promise.resolve()
  let open = () => {}
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const body = await req.arrayBuffer()
      await opened
      try {
        const res = await fetch(`${target}${new URL(req.url).pathname}`, {
          method: req.method,
          headers: {
            'content-type': 'application/json',
            authorization: req.headers.get('authorization') ?? '',
          },
          body,
        })
        return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers })
      } catch {
        // The model is gone (the test is over): the worker sees an upstream failure.
        return Response.json({ error: { message: 'model gone' } }, { status: 502 })
      }
    },
  })
  registerStop('server', 'model gate', () => server.stop(true))
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    close() {
      const next = Promise.withResolvers<void>()
      opened = next.promise
      open = next.resolve
    },
    open: () => open(),
  }
}

const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v)
const ms = (v: unknown) => new Date(v as string).getTime()

/** Log lines as written (JSON), for the lines an operator reads. */
function logSink() {
  const lines: Row[] = []
  return { lines, write: (line: string) => void lines.push(JSON.parse(line)) }
}

function helpers(bot: () => TestKbot) {
  const q = (sql: string, p: unknown[] = []) => bot().db.store.db.query<Row>(sql, p)
  const userOf = async (kakaoUserId: string) =>
    (await q('select * from appuser where kakao_user_id = $1', [kakaoUserId]))[0] ?? null
  const tasksOf = (userId: string) =>
    q('select * from aiprocessingtask where user_id = $1 order by created_at, id', [userId])
  const convsOf = (userId: string) =>
    q('select * from conversation where user_id = $1 order by started_at, id', [userId])
  const eventsOf = async (userId: string) =>
    (await q('select type, detail from eventlog where user_id = $1 order by created_at, id', [userId])).map(
      (e) => ({ type: e.type, detail: parse(e.detail) }),
    )
  const messagesOf = (userId: string) =>
    q(
      `select m.role, m.content from message m join conversation c on c.id = m.conv_id
        where c.user_id = $1 order by m.created_at, m.role desc`,
      [userId],
    )
  const counts = async () =>
    (
      await q(
        `select (select count(*) from appuser) as users, (select count(*) from conversation) as convs,
                (select count(*) from message) as messages, (select count(*) from aiprocessingtask) as tasks,
                (select count(*) from eventlog) as events`,
      )
    )[0]
  return { q, userOf, tasksOf, convsOf, eventsOf, messagesOf, counts }
}

for (const dialect of await testDialects()) {
  /**
   * The guarded bot: a skill secret, a bot id list, workers answering inline through a gated model, the default
   * pipeline (name-command included) behind the probe, debug logs captured.
   */
  describe(`Kakao turn contract, guarded bot (${dialect})`, () => {
    const fakes = useFakes()
    const logs = logSink()
    let gate: ReturnType<typeof startGate>
    let k: TestKbot
    const h = helpers(() => k)
    const skill = (payload: unknown, headers: Record<string, string> = {}) =>
      k.post('/skill', payload, { 'x-kbot-skill-secret': SECRET, ...headers })
    const welcome = (payload: unknown, headers: Record<string, string> = {}) =>
      k.post('/welcome', payload, { 'x-kbot-skill-secret': SECRET, ...headers })
    const user = (label: string) => `${label}-${dialect}-${crypto.randomUUID().slice(0, 8)}`

    beforeAll(async () => {
      gate = startGate(fakes.model.url.replace(/\/v1$/, ''))
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `turn-guarded-${dialect}`,
        env: {
          ...fakes.env,
          OPENAI_BASE_URL: gate.url,
          KAKAO_SKILL_SECRET: SECRET,
          KAKAO_BOT_IDS: BOT,
        },
        // context_cache_size = 0: these bots pin the read path (a user's first turn on an instance, a stale retry);
        // the remembered path is pinned by context-cache.test.ts and ack-statements.test.ts.
        toml: `[kakao]\ncontext_cache_size = 0\nmax_utterance_chars = 20\ninline_wait_ms = 3000\n${PROBE_ORDER([...BUILTIN_PLUGINS])}`,
        logLevel: 'debug',
        logDestination: logs,
      })
      instrument(k.db.store.db)
    })
    afterAll(() => k.stop())

    test('the skill secret: missing, wrong (either length) is a 401 with nothing written; the right one passes', async () => {
      const u = user('auth')
      const payload = kakaoPayload({ utterance: '비밀 확인', userId: u })
      const before = await h.counts()
      const unauthorized = refusal(401, 'UNAUTHORIZED', 'missing or wrong X-Kbot-Skill-Secret header')
      expect(await k.post('/skill', payload)).toEqual(unauthorized)
      expect(await k.post('/skill', payload, { 'x-kbot-skill-secret': 'x'.repeat(SECRET.length) })).toEqual(
        unauthorized,
      )
      expect(await k.post('/skill', payload, { 'x-kbot-skill-secret': `${SECRET}x` })).toEqual(unauthorized)
      expect(await k.post('/welcome', payload)).toEqual(unauthorized)
      expect(await h.counts()).toEqual(before)
      expect(probe.of(u)).toEqual([])
      expect(await skill(payload)).toEqual({ status: 200, json: text('답변: 비밀 확인') })
      expect(probe.of(u).length).toBe(1)
    })

    test('a payload that is not a SkillPayload, or another bot, is refused with nothing written', async () => {
      const before = await h.counts()
      const bad = { userRequest: { user: { id: 'no-utterance' } } }
      const badRequest = refusal(
        400,
        'BAD_REQUEST',
        'not a Kakao SkillPayload: userRequest.utterance is missing',
      )
      expect(await skill(bad)).toEqual(badRequest)
      expect(await welcome(bad)).toEqual(badRequest)
      const u = user('other-bot')
      const other = kakaoPayload({ utterance: '안녕', userId: u, botId: 'someone-else' })
      const forbidden = refusal(403, 'FORBIDDEN', 'this bot.id is not served here (KAKAO_BOT_IDS)')
      expect(await skill(other)).toEqual(forbidden)
      expect(await welcome(other)).toEqual(forbidden)
      expect(await h.counts()).toEqual(before)
      expect(probe.of(u)).toEqual([])
    })

    test('blank and over-long text get their polite replies and touch nothing; exactly the limit is a turn', async () => {
      const u = user('length')
      const before = await h.counts()
      expect(await skill(kakaoPayload({ utterance: ' \n\t ', userId: u }))).toEqual({
        status: 200,
        json: text(M.empty),
      })
      expect(await skill(kakaoPayload({ utterance: '가'.repeat(21), userId: u }))).toEqual({
        status: 200,
        json: text('메시지가 조금 길어요. 20자 이내로 나누어 보내 주시겠어요?'),
      })
      expect(await h.counts()).toEqual(before)
      expect(probe.of(u)).toEqual([])
      // 20 characters once trimmed: a normal turn, and the text stored is the trimmed one.
      const twenty = '나'.repeat(20)
      expect(await skill(kakaoPayload({ utterance: `  ${twenty}  `, userId: u }))).toEqual({
        status: 200,
        json: text(`답변: ${twenty}`),
      })
      const row = await h.userOf(u)
      expect((await h.messagesOf(row!.id)).map((m) => [m.role, m.content])).toEqual([
        ['user', twenty],
        ['assistant', `답변: ${twenty}`],
      ])
    })

    test('a new user without a callback: the answer inline, and the rows, the Turn and the log lines', async () => {
      const u = user('new')
      const rid = `req-${crypto.randomUUID()}`
      const payload = kakaoPayload({ utterance: ' 첫 질문 ', userId: u }) as Row
      payload.action.clientExtra = { source: 'button', n: 1 }
      const before = Date.now()
      const res = await skill(payload, { 'x-request-id': rid })
      const after = Date.now()
      expect(res).toEqual({ status: 200, json: text('답변: 첫 질문') })

      const row = await h.userOf(u)
      expect(row).toMatchObject({ bot_id: BOT, kakao_user_id: u, plusfriend_user_key: PFK })
      const [conv, ...moreConvs] = await h.convsOf(row!.id)
      expect(moreConvs).toEqual([])
      expect(conv!.ended_at).toBeNull()
      const tasks = await h.tasksOf(row!.id)
      expect(tasks.length).toBe(1)
      expect(tasks[0]).toMatchObject({
        request_id: rid,
        callback_url: null,
        status: 'completed',
        callback_status: 'inline',
        conv_id: conv!.id,
      })
      expect((await h.messagesOf(row!.id)).map((m) => [m.role, m.content])).toEqual([
        ['user', '첫 질문'],
        ['assistant', '답변: 첫 질문'],
      ])
      expect(await h.eventsOf(row!.id)).toEqual([
        { type: 'user_created', detail: { bot_id: BOT } },
        { type: 'conversation_started', detail: { conversation_id: conv!.id, previous: null } },
      ])

      // What the pipeline got: the Turn as the Kakao turn built it.
      const [seen, ...moreSeen] = probe.of(u)
      expect(moreSeen).toEqual([])
      expect(seen!).toMatchObject({
        id: rid,
        requestId: rid,
        utterance: '첫 질문',
        callbackUrl: null,
        clientExtra: { source: 'button', n: 1 },
        userId: row!.id,
        conversationId: conv!.id,
        prompt: null,
        history: [],
        vars: {},
        reply: null,
      })
      expect(seen!.receivedAt).toBeGreaterThanOrEqual(before)
      expect(seen!.receivedAt).toBeLessThanOrEqual(after)
      expect(seen!.respondBy - seen!.receivedAt).toBe(k.config.kakao.turn_budget_ms)

      // Every line of the turn carries its request id; the turn's own lines also the user.
      const request = logs.lines.find((l) => l.msg === 'skill request' && l.reqId === rid)
      expect(request).toMatchObject({ level: 20, utterance: '첫 질문' })
      expect(request!.headers['x-request-id']).toBe(rid)
      expect(logs.lines.find((l) => l.msg === 'turn' && l.reqId === rid)).toMatchObject({
        level: 20,
        userId: row!.id,
        utterance: '첫 질문',
      })
    })

    test('the turn id is a fresh UUIDv7 without X-Request-Id, and X-Request-Id is cut to 200 characters', async () => {
      const u = user('ids')
      const payload = kakaoPayload({ utterance: '아이디 없이', userId: u }) as Row
      delete payload.action
      expect(await skill(payload)).toEqual({ status: 200, json: text('답변: 아이디 없이') })
      const long = `r${'x'.repeat(249)}`
      expect(
        await skill(kakaoPayload({ utterance: '긴 아이디', userId: u }), { 'x-request-id': long }),
      ).toEqual({
        status: 200,
        json: text('답변: 긴 아이디'),
      })
      const [plain, cut] = probe.of(u)
      expect(plain!.id).toMatch(UUID7)
      expect(plain!.requestId).toBeNull()
      // No action at all: no clientExtra either.
      expect(plain!.clientExtra).toEqual({})
      expect(logs.lines.some((l) => l.msg === 'skill request' && l.reqId === plain!.id)).toBe(true)
      expect(cut).toMatchObject({ id: long.slice(0, 200), requestId: long.slice(0, 200) })
      const row = await h.userOf(u)
      expect((await h.tasksOf(row!.id)).map((t) => t.request_id)).toEqual([null, long.slice(0, 200)])
    })

    test('with an allowed callbackUrl: the useCallback ack at once, the answer through the callback', async () => {
      const u = user('callback')
      const url = fakes.kakao.callbackUrl()
      const res = await skill(kakaoPayload({ utterance: '콜백 질문', userId: u, callbackUrl: url }))
      expect(res).toEqual({ status: 200, json: ACK })
      const row = await h.userOf(u)
      const [task] = await h.tasksOf(row!.id)
      expect(task).toMatchObject({ callback_url: url, request_id: null })
      expect(probe.of(u)[0]!.callbackUrl).toBe(url)
      await waitFor(() => fakes.kakao.arrivalsFor(url).length > 0, { what: 'the callback' })
      const [arrival] = fakes.kakao.arrivalsFor(url)
      expect(arrival!.status).toBe('SUCCESS')
      expect(arrival!.body).toEqual(text('답변: 콜백 질문'))
      expect((await h.eventsOf(row!.id)).map((e) => e.type)).not.toContain('callback_refused')
    })

    test.each([
      ['a host not allowed', 'https://evil.invalid/v1/bots/x/callback/t', 'evil.invalid'],
      ['an unparseable URL', 'notaurl', '(unparseable)'],
      ['a 300-character host', `https://${'a'.repeat(300)}.invalid/cb`, 'a'.repeat(255)],
    ])(
      'a callbackUrl with %s is never used: the answer inline, a callback_refused event',
      async (_l, url, host) => {
        const u = user('refused')
        const arrivals = fakes.kakao.arrivals.length
        const rid = `refused-${u}`
        const res = await skill(kakaoPayload({ utterance: '거절된 콜백', userId: u, callbackUrl: url }), {
          'x-request-id': rid,
        })
        expect(res).toEqual({ status: 200, json: text('답변: 거절된 콜백') })
        const row = await h.userOf(u)
        expect((await h.tasksOf(row!.id)).map((t) => t.callback_url)).toEqual([null])
        expect(probe.of(u)[0]!.callbackUrl).toBeNull()
        expect((await h.eventsOf(row!.id)).filter((e) => e.type !== 'conversation_started')).toEqual([
          { type: 'user_created', detail: { bot_id: BOT } },
          { type: 'callback_refused', detail: { host } },
        ])
        expect(fakes.kakao.arrivals.length).toBe(arrivals)
        // The operator sees why the callback was not used.
        expect(logs.lines.filter((l) => l.reqId === rid && l.level === 40)).toEqual([
          expect.objectContaining({
            host,
            msg: 'callbackUrl host is not in CALLBACK_ALLOWED_HOSTS; it will not be used',
          }),
        ])
      },
    )

    test('a repeated inline request waits for the first one’s answer, within its own inline budget', async () => {
      const u = user('dup-inline')
      const rid = `dup-${crypto.randomUUID()}`
      const payload = kakaoPayload({ utterance: '기다리는 질문', userId: u })
      const pool = k.kbot.pool
      const original = pool.waitFor
      const seen = new Set<string>()
      const entered = Promise.withResolvers<void>()
      let repeatWait: { at: number; ms: number } | null = null
      // The first copy gives up waiting at once (so this test does not wait out its budget); the second waits.
      pool.waitFor = (taskId, waitMs) => {
        if (!seen.has(taskId)) {
          seen.add(taskId)
          return Promise.resolve(null)
        }
        repeatWait = { at: Date.now(), ms: waitMs }
        const waiting = original(taskId, waitMs)
        entered.resolve()
        return waiting
      }
      gate.close()
      try {
        const first = await skill(payload, { 'x-request-id': rid })
        const row = await h.userOf(u)
        const [task] = await h.tasksOf(row!.id)
        expect(first).toEqual({ status: 200, json: PENDING(task!.id) })
        const sentAt = Date.now()
        const again = skill(payload, { 'x-request-id': rid })
        await Promise.race([entered.promise, again])
        gate.open()
        expect(await again).toEqual({ status: 200, json: text('답변: 기다리는 질문') })
        // It waited until its own arrival plus the inline wait (not the first copy's, not none at all).
        const waited = repeatWait as { at: number; ms: number } | null
        expect(waited!.at + waited!.ms).toBeGreaterThanOrEqual(sentAt + k.config.kakao.inline_wait_ms)
        expect(waited!.ms).toBeLessThanOrEqual(k.config.kakao.inline_wait_ms)
        expect((await h.tasksOf(row!.id)).map((t) => t.id)).toEqual([task!.id])
        // The repeat never reached the pipeline, and the log says why.
        expect(probe.of(u).length).toBe(1)
        expect(
          logs.lines.filter(
            (l) => l.reqId === rid && l.msg === 'duplicate delivery of a request: no second task',
          ),
        ).toEqual([expect.objectContaining({ level: 30, taskId: task!.id })])
      } finally {
        gate.open()
        pool.waitFor = original
      }
    })

    test('another user’s X-Request-Id never reveals their answer: a task of one’s own, without that id', async () => {
      const rid = `shared-${crypto.randomUUID()}`
      const [a, b] = [user('owner'), user('stranger')]
      // The stranger is a returning user: the turn's own duplicate check sees the id and must not answer with it.
      expect((await skill(kakaoPayload({ utterance: '첫 인사', userId: b }))).status).toBe(200)
      expect(await skill(kakaoPayload({ utterance: '내 질문', userId: a }), { 'x-request-id': rid })).toEqual(
        {
          status: 200,
          json: text('답변: 내 질문'),
        },
      )
      expect(
        await skill(kakaoPayload({ utterance: '남의 질문', userId: b }), { 'x-request-id': rid }),
      ).toEqual({
        status: 200,
        json: text('답변: 남의 질문'),
      })
      const [ua, ub] = [await h.userOf(a), await h.userOf(b)]
      expect((await h.tasksOf(ua!.id)).map((t) => t.request_id)).toEqual([rid])
      expect((await h.tasksOf(ub!.id)).map((t) => t.request_id)).toEqual([null, null])
      expect(probe.of(b).map((t) => t.requestId)).toEqual([null, rid])
    })

    test('/welcome: a new user is asked for a name (and awaited), a known one greeted; created once', async () => {
      const u = user('welcome')
      const before = Date.now()
      const greeted = await recorded(() => welcome(kakaoPayload({ utterance: '', userId: u })))
      expect({ status: greeted.status, json: greeted.json }).toEqual({
        status: 200,
        json: text(M.welcome_new),
      })
      expect(matching(greeted.sql, USER_READ)).toBe(1)
      expect(matching(greeted.sql, USER_WRITE)).toBe(1)
      const after = Date.now()
      const row = await h.userOf(u)
      expect(row!.name_state).toBe('awaiting')
      const until = ms(row!.name_state_until)
      expect(until).toBeGreaterThanOrEqual(before + 5 * 60_000)
      expect(until).toBeLessThanOrEqual(after + 5 * 60_000)
      await h.q(
        `update appuser set name = '민수', name_state = 'none', name_state_until = null where id = $1`,
        [row!.id],
      )
      expect(await welcome(kakaoPayload({ utterance: '', userId: u }))).toEqual({
        status: 200,
        json: text('다시 찾아 주셔서 반가워요, 민수 님! 오늘은 무엇을 도와드릴까요?'),
      })
      expect(await h.eventsOf(row!.id)).toEqual([{ type: 'user_created', detail: { bot_id: BOT } }])
      expect(probe.of(u)).toEqual([])
    })

    test('a pipeline that ends without a reply: the apology, logged as an error naming the cause', async () => {
      const u = user('silent')
      const rid = `silent-${crypto.randomUUID()}`
      const res = await skill(kakaoPayload({ utterance: '#silent', userId: u }), { 'x-request-id': rid })
      expect(res).toEqual({ status: 200, json: text(M.unavailable) })
      expect(probe.of(u).length).toBe(1)
      const line = logs.lines.find(
        (l) => l.reqId === rid && l.msg === 'turn failed: answered with an apology',
      )
      expect(line).toMatchObject({
        level: 50,
        err: {
          code: 'PIPELINE_INVALID',
          message: 'the pipeline ended without a reply (is ai-dispatch last?)',
        },
      })
    })

    test('the database down: the apology, a warning (not an error), and nothing written', async () => {
      const u = user('down')
      const rid = `down-${crypto.randomUUID()}`
      const before = await h.counts()
      const res = await recorded(
        () => skill(kakaoPayload({ utterance: '안녕', userId: u }), { 'x-request-id': rid }),
        {
          fail: new AppError('DB_UNAVAILABLE', 'database unavailable: injected'),
        },
      )
      expect(res.status).toBe(200)
      expect(res.json).toEqual(text(M.unavailable))
      expect(res.sql.length).toBe(1)
      expect(await h.counts()).toEqual(before)
      const mine = logs.lines.filter((l) => l.reqId === rid && l.level >= 40)
      expect(mine.map((l) => [l.level, l.msg, l.err?.code])).toEqual([
        [40, 'database unavailable: answered with an apology', 'DB_UNAVAILABLE'],
      ])
      // Any other failure is an error.
      const rid2 = `broken-${crypto.randomUUID()}`
      const broken = await recorded(
        () => skill(kakaoPayload({ utterance: '안녕', userId: u }), { 'x-request-id': rid2 }),
        { fail: new Error('injected bug') },
      )
      expect(broken.json).toEqual(text(M.unavailable))
      expect(
        logs.lines.filter((l) => l.reqId === rid2 && l.level >= 40).map((l) => [l.level, l.msg]),
      ).toEqual([[50, 'turn failed: answered with an apology']])
    })

    test('/welcome with the database down: the apology, a warning with the route and the request id', async () => {
      const u = user('welcome-down')
      const long = `w${'y'.repeat(230)}`
      const res = await recorded(
        () => welcome(kakaoPayload({ utterance: '', userId: u }), { 'x-request-id': long }),
        {
          fail: new AppError('DB_UNAVAILABLE', 'database unavailable: injected'),
        },
      )
      expect(res.json).toEqual(text(M.unavailable))
      const line = logs.lines.find(
        (l) => l.msg === 'database unavailable: answered with an apology' && l.route,
      )
      expect(line).toMatchObject({ level: 40, route: 'welcome', reqId: long.slice(0, 200) })
      const plain = await recorded(() => welcome(kakaoPayload({ utterance: '', userId: u })), {
        fail: new AppError('DB_UNAVAILABLE', 'database unavailable: injected'),
      })
      expect(plain.json).toEqual(text(M.unavailable))
      const lines = logs.lines.filter((l) => l.route === 'welcome' && l.level === 40)
      expect(lines.length).toBe(2)
      expect(lines[1]!.reqId).toMatch(UUID7)
      expect(await h.userOf(u)).toBeNull()
    })
  })

  /**
   * The open bot: no secret, no bot id list, DEBUG (its own /test-callback is a trusted target), no workers (a
   * task stays pending), no inline wait, a short turn budget, and a pipeline without name-command.
   */
  describe(`Kakao turn contract, open bot (${dialect})`, () => {
    const fakes = useFakes()
    const logs = logSink()
    let k: TestKbot
    const h = helpers(() => k)
    const skill = (payload: unknown, headers: Record<string, string> = {}) =>
      k.post('/skill', payload, headers)
    const user = (label: string) => `${label}-${dialect}-${crypto.randomUUID().slice(0, 8)}`
    const prefix = () => `http://127.0.0.1:${k.config.port}/test-callback`

    beforeAll(async () => {
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `turn-open-${dialect}`,
        env: { ...fakes.env, DEBUG: 'true' },
        toml: `[kakao]\ncontext_cache_size = 0\nturn_budget_ms = 1000\ninline_wait_ms = 0\n[worker]\nconcurrency = 0\n${PROBE_ORDER(
          ['late-answer', 'prompt-resolver', 'history-context', 'ai-dispatch'],
        )}`,
        logLevel: 'info',
        logDestination: logs,
      })
      instrument(k.db.store.db)
    })
    afterAll(() => k.stop())

    test('no secret and no bot list: any bot is served without the header', async () => {
      const u = user('any-bot')
      const url = fakes.kakao.callbackUrl()
      const res = await skill(kakaoPayload({ utterance: '아무 봇', userId: u, botId: 'any-bot-id' }), {
        'x-request-id': `any-${u}`,
      })
      expect(res.status).toBe(200)
      const row = await h.userOf(u)
      expect(row!.bot_id).toBe('any-bot-id')
      const [task] = await h.tasksOf(row!.id)
      expect(res.json).toEqual(PENDING(task!.id))
      const acked = await skill(
        kakaoPayload({ utterance: '콜백', userId: u, botId: 'any-bot-id', callbackUrl: url }),
      )
      expect(acked).toEqual({ status: 200, json: ACK })
      expect((await h.tasksOf(row!.id)).map((t) => t.callback_url)).toEqual([null, url])
    })

    test('a returning user in an open conversation takes the fast path; a repeat creates and runs nothing', async () => {
      const u = user('fast')
      const send = (rid: string, url: string) =>
        recorded(() =>
          skill(kakaoPayload({ utterance: `질문 ${rid}`, userId: u, callbackUrl: url }), {
            'x-request-id': rid,
          }),
        )
      const [url1, url2] = [fakes.kakao.callbackUrl(), fakes.kakao.callbackUrl()]
      // A new user: created and a conversation opened without reading the user again (the first read found
      // nothing) or looking for an earlier conversation to touch or end (a user created now has none); no task
      // can be theirs yet, so no duplicate lookup.
      const first = await send('fast-1', url1)
      expect(first.json).toEqual(ACK)
      expect(matching(first.sql, USER_WRITE)).toBe(1)
      expect(matching(first.sql, FIRST_CONV)).toBe(1)
      expect(matching(first.sql, USER_READ)).toBe(0)
      expect(matching(first.sql, CONV_BY_USER)).toBe(0)
      expect(matching(first.sql, FIND_DUP)).toBe(0)
      // Returning, in the open conversation (remembered from the first turn): no read, one write that touches
      // the conversation once.
      const second = await send('fast-2', url2)
      expect(second.json).toEqual(ACK)
      expect(matching(second.sql, USER_READ)).toBe(0)
      expect(matching(second.sql, USER_WRITE)).toBe(0)
      expect(matching(second.sql, CONV_BY_USER)).toBe(0)
      expect(matching(second.sql, FIRST_CONV)).toBe(0)
      expect(matching(second.sql, FIND_DUP)).toBe(0)
      expect(matching(second.sql, CONV_UPDATE)).toBe(1)
      expect(matching(second.sql, ENQUEUE)).toBeGreaterThan(0)
      const [t1, t2] = probe.of(u)
      expect(t2!.conversationId).toBe(t1!.conversationId)
      expect(t2!.userId).toBe(t1!.userId)
      const row = await h.userOf(u)
      const tasks = await h.tasksOf(row!.id)
      expect(tasks.map((t) => [t.request_id, t.callback_url])).toEqual([
        ['fast-1', url1],
        ['fast-2', url2],
      ])
      const before = await h.counts()
      // The same request again (same X-Request-Id), then the same single-use callbackUrl under a new id.
      for (const repeat of [() => send('fast-2', url2), () => send('fast-3', url2)]) {
        const res = await repeat()
        expect(res.json).toEqual(ACK)
        expect(matching(res.sql, FIND_DUP)).toBe(1)
        expect(res.sql.filter((s) => WRITE.test(s))).toEqual([])
      }
      expect(await h.counts()).toEqual(before)
      expect(probe.of(u).length).toBe(2)
    })

    test('a repeat is recognised even when it comes with a new plusfriendUserKey (which is saved)', async () => {
      const u = user('pfk')
      const url = fakes.kakao.callbackUrl()
      const payload = kakaoPayload({ utterance: '키 바뀜', userId: u, callbackUrl: url }) as Row
      expect((await skill(payload, { 'x-request-id': `pfk-${u}` })).json).toEqual(ACK)
      payload.userRequest.user.properties.plusfriendUserKey = 'NEWKEY'
      payload.userRequest.user.properties.plusfriend_user_key = 'NEWKEY'
      const again = await recorded(() => skill(payload, { 'x-request-id': `pfk-${u}` }))
      expect(again.json).toEqual(ACK)
      expect(matching(again.sql, ENQUEUE)).toBe(0)
      const row = await h.userOf(u)
      expect(row!.plusfriend_user_key).toBe('NEWKEY')
      expect((await h.tasksOf(row!.id)).length).toBe(1)
      expect(probe.of(u).length).toBe(1)
      expect((await h.eventsOf(row!.id)).filter((e) => e.type === 'user_created').length).toBe(1)
    })

    test('a changed plusfriendUserKey is saved; the user and their conversation stay the same', async () => {
      const u = user('pfk2')
      const payload = kakaoPayload({ utterance: '처음', userId: u }) as Row
      await skill(payload)
      payload.userRequest.user.properties.plusfriendUserKey = 'OTHERKEY'
      payload.userRequest.utterance = '두 번째'
      expect((await skill(payload)).status).toBe(200)
      const row = await h.userOf(u)
      expect(row!.plusfriend_user_key).toBe('OTHERKEY')
      const [t1, t2] = probe.of(u)
      expect([t2!.userId, t2!.conversationId]).toEqual([t1!.userId, t1!.conversationId])
      expect((await h.convsOf(row!.id)).length).toBe(1)
      expect((await h.eventsOf(row!.id)).map((e) => e.type)).toEqual(['user_created', 'conversation_started'])
    })

    test('a task that vanished between the duplicate check and its lookup: the request is a new one', async () => {
      const u = user('vanished')
      const url = fakes.kakao.callbackUrl()
      const payload = kakaoPayload({ utterance: '사라진 작업', userId: u, callbackUrl: url })
      expect((await skill(payload, { 'x-request-id': `gone-${u}` })).json).toEqual(ACK)
      const row = await h.userOf(u)
      const [task] = await h.tasksOf(row!.id)
      const raw = k.db.store.db
      const res = await recorded(() => skill(payload, { 'x-request-id': `gone-${u}` }), {
        before: async (sql) => {
          if (!FIND_DUP.test(sql)) return
          // Erased in between (forget-me, retention): outside the request, as another process would.
          await inRequest.exit(() => raw.query('delete from aiprocessingtask where id = $1', [task!.id]))
        },
      })
      expect(res.json).toEqual(ACK)
      const tasks = await h.tasksOf(row!.id)
      expect(tasks.map((t) => [t.request_id, t.callback_url])).toEqual([[`gone-${u}`, url]])
      expect(tasks[0]!.id).not.toBe(task!.id)
      expect(probe.of(u).length).toBe(2)
    })

    test('its own /test-callback/<token> is a trusted callback in DEBUG mode', async () => {
      const u = user('trusted')
      const url = `${prefix()}/tok-123_AB`
      const res = await skill(kakaoPayload({ utterance: '디버그 콜백', userId: u, callbackUrl: url }))
      expect(res).toEqual({ status: 200, json: ACK })
      const row = await h.userOf(u)
      expect((await h.tasksOf(row!.id)).map((t) => t.callback_url)).toEqual([url])
      expect((await h.eventsOf(row!.id)).map((e) => e.type)).not.toContain('callback_refused')
    })

    test.each([
      ['another route of this server', () => `${prefix()}/../skill`, () => `127.0.0.1:${k.config.port}`],
      ['a token with a path after it', () => `${prefix()}/a/../../skill`, () => `127.0.0.1:${k.config.port}`],
      ['a 65-character token', () => `${prefix()}/${'t'.repeat(65)}`, () => `127.0.0.1:${k.config.port}`],
      ['a longer prefix', () => `${prefix()}X/abc`, () => `127.0.0.1:${k.config.port}`],
      [
        'another host of the same length',
        () => `https://evil.invalid/${'a'.repeat(40)}`,
        () => 'evil.invalid',
      ],
    ])('%s is not the trusted /test-callback: refused, answered without it', async (_l, urlOf, hostOf) => {
      const u = user('untrusted')
      const url = urlOf()
      const res = await skill(kakaoPayload({ utterance: '신뢰 안 됨', userId: u, callbackUrl: url }))
      const row = await h.userOf(u)
      const [task, ...more] = await h.tasksOf(row!.id)
      expect(more).toEqual([])
      expect(res).toEqual({ status: 200, json: PENDING(task!.id) })
      expect(task!.callback_url).toBeNull()
      expect((await h.eventsOf(row!.id)).filter((e) => e.type === 'callback_refused')).toEqual([
        { type: 'callback_refused', detail: { host: hostOf() } },
      ])
    })

    test('a turn answered by another plugin touches the open conversation; a new user’s first one too', async () => {
      const u = user('check')
      await skill(kakaoPayload({ utterance: '질문', userId: u }))
      const row = await h.userOf(u)
      const [conv] = await h.convsOf(row!.id)
      const [task] = await h.tasksOf(row!.id)
      const earlier = new Date(Date.now() - 60_000)
      await h.q('update conversation set last_activity_at = $2 where id = $1', [conv!.id, earlier])
      const before = Date.now()
      const res = await recorded(() => skill(kakaoPayload({ utterance: '답변 확인', userId: u })))
      expect(res.json).toEqual({
        version: '2.0',
        template: {
          outputs: [{ simpleText: { text: M.still_preparing } }],
          quickReplies: [
            {
              label: M.check_label,
              action: 'message',
              messageText: M.check_label,
              extra: { kbot_task: task!.id },
            },
          ],
        },
      })
      expect(matching(res.sql, CONV_UPDATE)).toBe(1)
      const [touched] = await h.convsOf(row!.id)
      expect(ms(touched!.last_activity_at)).toBeGreaterThanOrEqual(before)
      expect(touched!.id).toBe(conv!.id)

      const fresh = user('check-new')
      expect(await skill(kakaoPayload({ utterance: '답변 확인', userId: fresh }))).toEqual({
        status: 200,
        json: text(M.nothing_to_check),
      })
      const freshRow = await h.userOf(fresh)
      expect((await h.convsOf(freshRow!.id)).length).toBe(1)
    })

    test('an expired session: a new conversation, the idle one ended at its last activity', async () => {
      const u = user('expired')
      await skill(kakaoPayload({ utterance: '어제 질문', userId: u, callbackUrl: fakes.kakao.callbackUrl() }))
      const row = await h.userOf(u)
      const [old] = await h.convsOf(row!.id)
      const idle = new Date(Date.now() - (k.config.session_timeout_minutes + 1) * 60_000)
      await h.q('update conversation set last_activity_at = $2, started_at = $2 where id = $1', [
        old!.id,
        idle,
      ])
      const res = await recorded(() =>
        skill(kakaoPayload({ utterance: '오늘 질문', userId: u, callbackUrl: fakes.kakao.callbackUrl() })),
      )
      expect(res.json).toEqual(ACK)
      // A known user without an open conversation: the lookup-and-touch, then the one that ends it and opens one.
      expect(matching(res.sql, CONV_BY_USER)).toBe(1)
      const convs = await h.convsOf(row!.id)
      expect(convs.length).toBe(2)
      expect(convs[0]!.id).toBe(old!.id)
      expect(ms(convs[0]!.ended_at)).toBe(idle.getTime())
      expect(ms(convs[0]!.last_activity_at)).toBe(idle.getTime())
      expect(convs[1]!.ended_at).toBeNull()
      expect(probe.of(u)[1]!.conversationId).toBe(convs[1]!.id)
      const tasks = await h.tasksOf(row!.id)
      expect(tasks.map((t) => t.conv_id)).toEqual([old!.id, convs[1]!.id])
      expect((await h.eventsOf(row!.id)).at(-1)).toEqual({
        type: 'conversation_started',
        detail: { conversation_id: convs[1]!.id, previous: old!.id },
      })
    })

    test('a turn over its budget: the apology at the budget, and the late turn queues nothing', async () => {
      const u = user('stall')
      probe.arm()
      const res = await skill(
        kakaoPayload({ utterance: '#stall', userId: u, callbackUrl: fakes.kakao.callbackUrl() }),
      )
      expect(res).toEqual({ status: 200, json: text(M.unavailable) })
      const [seen] = probe.of(u)
      const line = logs.lines.find(
        (l) => l.reqId === seen!.id && l.msg === 'turn failed: answered with an apology',
      )
      expect(line).toMatchObject({
        level: 50,
        err: { code: 'INTERNAL', message: 'turn exceeded its time budget' },
      })
      probe.release()
      await waitFor(() => probe.stallDone, { what: 'the stalled turn to end' })
      const row = await h.userOf(u)
      expect(await h.tasksOf(row!.id)).toEqual([])
      expect(await h.messagesOf(row!.id)).toEqual([])
    })

    test('/welcome without name-command in the pipeline asks for a name but awaits none', async () => {
      const u = user('welcome-plain')
      expect(await k.post('/welcome', kakaoPayload({ utterance: '', userId: u }))).toEqual({
        status: 200,
        json: text(M.welcome_new),
      })
      const row = await h.userOf(u)
      expect(row).toMatchObject({ name_state: 'none', name_state_until: null })
    })
  })
}
