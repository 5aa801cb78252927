import { afterEach, beforeAll, beforeEach, describe, expect, spyOn, test } from 'bun:test'
import { type Config, loadConfig } from '../../src/config.ts'
import { postCallback } from '../../src/delivery/callback.ts'
import { createDelivery, type Delivery, type DeliveryDeps } from '../../src/delivery/delivery.ts'
import { createDeliveryGuard } from '../../src/delivery/guard.ts'
import { shapeAnswer } from '../../src/kakao/shape.ts'
import { createLogger, type Logger } from '../../src/logger.ts'
import { type CallbackOutcome as MetricOutcome, type Metrics, noMetrics } from '../../src/metrics/registry.ts'
import { currentConversation } from '../../src/store/conversations.ts'
import type { Db, Dialect } from '../../src/store/db.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { claimCallback } from '../../src/store/task-delivery.ts'
import { getTask, insertTask, type Task, type TaskStatus } from '../../src/store/tasks.ts'
import { upsertUser } from '../../src/store/users.ts'
import { DEFAULT_MESSAGES } from '../../src/texts.ts'
import { registerStop, tempDir, useCleanup } from '../helpers/cleanup.ts'
import { testDialects, useTestDb } from '../helpers/db.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { waitFor } from '../helpers/wait.ts'

/**
 * The callback promise piece by piece (src/delivery): what one delivery POSTs and writes for each state of a
 * task, the single-use claim, the POST itself (headers, body, timeout, Kakao's answers), and the delivery guard's
 * passes and lifecycle. Real store, real loopback HTTP (the fake Kakao receiver and a programmable one), no model.
 * Fast on purpose: it is the first test run of the `delivery` mutation module.
 */

const MESSAGES = { ...DEFAULT_MESSAGES }
const BASE_CONFIG = loadConfig({ cwd: tempDir('delivery-cfg'), env: { OPENAI_API_KEY: 'sk-test' } })

function configWith(o: { settleMs?: number; intervalMs?: number; minAttemptMs?: number } = {}): Config {
  return {
    ...BASE_CONFIG,
    kakao: { ...BASE_CONFIG.kakao, callback_settle_ms: o.settleMs ?? 0 },
    worker: {
      ...BASE_CONFIG.worker,
      guard_interval_ms: o.intervalMs ?? 50,
      min_attempt_ms: o.minAttemptMs ?? 3000,
    },
  }
}

const silent = () => createLogger({ level: 'silent' })

type LogLine = { level: number; msg: string } & Record<string, unknown>

/**
 * A logger whose warn-and-above lines (parsed) are kept: those reach the logmessage table, where an operator
 * sees them, so who logged (component, taskId) and how often is behaviour; the wording is not asserted.
 */
function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const log = createLogger({
    level: 'warn',
    destination: { write: (line) => void lines.push(JSON.parse(line)) },
  })
  return { log, lines }
}

function metricsRecorder(): { metrics: Metrics; callbacks: MetricOutcome[] } {
  const callbacks: MetricOutcome[] = []
  return { metrics: { ...noMetrics, callback: (o) => void callbacks.push(o) }, callbacks }
}

interface Hit {
  method: string
  path: string
  contentType: string | null
  body: string
}

/** A callback receiver whose every answer the test decides (status, body, delay, redirect, no answer at all). */
interface Receiver {
  origin: string
  hits: Hit[]
  url(path?: string): string
  respond(handler: (hit: Hit) => Response | Promise<Response>): void
  close(): void
}

const kakaoOk = () => Response.json({ taskId: 't', status: 'SUCCESS', message: 'OK', timestamp: 0 })

function startReceiver(): Receiver {
  const hits: Hit[] = []
  let handler: (hit: Hit) => Response | Promise<Response> = kakaoOk
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const hit = {
        method: req.method,
        path: new URL(req.url).pathname,
        contentType: req.headers.get('content-type'),
        body: await req.text(),
      }
      hits.push(hit)
      return handler(hit)
    },
  })
  const origin = `http://127.0.0.1:${server.port}`
  return {
    origin,
    hits,
    url: (path = `/cb/${crypto.randomUUID()}`) => `${origin}${path}`,
    respond(h) {
      handler = h
    },
    close: () => server.stop(true),
  }
}

const text = (t: string) => ({ simpleText: { text: t } })
const checkButton = (taskId: string) => ({
  label: MESSAGES.check_label,
  action: 'message',
  messageText: MESSAGES.check_label,
  extra: { kbot_task: taskId },
})

/** The POST itself does not touch the database: once, not per store. */
describe('the POST (postCallback)', () => {
  useCleanup()
  let rx: Receiver
  beforeAll(() => {
    rx = startReceiver()
    registerStop('server', 'programmable receiver', () => rx.close())
  })
  afterEach(() => rx.respond(kakaoOk))

  const body = { version: '2.0' as const, template: { outputs: [text('안녕하세요')] } }

  test('POSTs the SkillResponse as JSON to the URL as given; SUCCESS is ok', async () => {
    const url = rx.url('/v1/bots/b/callback/tok%3Aen%2Bx')
    const outcome = await postCallback(url, body, 5000)
    expect(outcome).toEqual({ ok: true, httpStatus: 200, kakaoStatus: 'SUCCESS', message: 'OK' })
    const hit = rx.hits.at(-1)!
    expect([hit.method, hit.path, hit.contentType]).toEqual([
      'POST',
      '/v1/bots/b/callback/tok%3Aen%2Bx',
      'application/json',
    ])
    expect(JSON.parse(hit.body)).toEqual(body)
  })

  test("Kakao's FAIL on HTTP 200 is a refusal, with Kakao's message", async () => {
    rx.respond(() => Response.json({ status: 'FAIL', message: 'Invalid callback token.' }))
    expect(await postCallback(rx.url(), body, 5000)).toEqual({
      ok: false,
      httpStatus: 200,
      kakaoStatus: 'FAIL',
      message: 'Invalid callback token.',
    })
  })

  test('a 2xx without a Kakao status (or not JSON, or JSON null) is judged by the HTTP status', async () => {
    rx.respond(() => new Response('fine'))
    expect(await postCallback(rx.url(), body, 5000)).toEqual({
      ok: true,
      httpStatus: 200,
      kakaoStatus: null,
      message: null,
    })
    rx.respond(() => new Response('null', { status: 299 }))
    expect(await postCallback(rx.url(), body, 5000)).toEqual({
      ok: true,
      httpStatus: 299,
      kakaoStatus: null,
      message: null,
    })
    rx.respond(() => Response.json({ status: 1, message: 2 }, { status: 201 }))
    expect(await postCallback(rx.url(), body, 5000)).toEqual({
      ok: true,
      httpStatus: 201,
      kakaoStatus: null,
      message: null,
    })
  })

  test('a non-2xx is a refusal; its reason is the message, else the body (cut to 200), else none', async () => {
    rx.respond(() => new Response(`down ${'x'.repeat(300)}`, { status: 503 }))
    const long = await postCallback(rx.url(), body, 5000)
    expect(long).toEqual({
      ok: false,
      httpStatus: 503,
      kakaoStatus: null,
      message: `down ${'x'.repeat(195)}`,
    })
    rx.respond(() => Response.json({ status: 'FAIL', message: 'm'.repeat(250) }, { status: 400 }))
    expect(await postCallback(rx.url(), body, 5000)).toEqual({
      ok: false,
      httpStatus: 400,
      kakaoStatus: 'FAIL',
      message: 'm'.repeat(200),
    })
    rx.respond(() => Response.json({ status: 'FAIL', message: '' }, { status: 400 }))
    expect(await postCallback(rx.url(), body, 5000)).toEqual({
      ok: false,
      httpStatus: 400,
      kakaoStatus: 'FAIL',
      message: '{"status":"FAIL","message":""}',
    })
    rx.respond(() => new Response(null, { status: 500 }))
    expect(await postCallback(rx.url(), body, 5000)).toEqual({
      ok: false,
      httpStatus: 500,
      kakaoStatus: null,
      message: null,
    })
    rx.respond(() => new Response(null, { status: 300 }))
    expect((await postCallback(rx.url(), body, 5000)).ok).toBe(false)
  })

  test('a redirect is not followed', async () => {
    const target = rx.url('/elsewhere')
    rx.respond((hit) => (hit.path === '/elsewhere' ? kakaoOk() : Response.redirect(target, 307)))
    const before = rx.hits.length
    const outcome = await postCallback(rx.url(), body, 5000)
    expect([outcome.ok, outcome.httpStatus]).toEqual([false, 307])
    expect(rx.hits.slice(before).map((h) => h.path)).not.toContain('/elsewhere')
  })

  test('a receiver slower than the limit is given up on; one within it is waited for', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    rx.respond(async () => {
      await held
      return kakaoOk()
    })
    const outcome = await postCallback(rx.url(), body, 150)
    release()
    expect([outcome.ok, outcome.httpStatus, outcome.kakaoStatus]).toEqual([false, null, null])
    expect(outcome.message).toStartWith('request failed: ')
    rx.respond(async () => {
      await Bun.sleep(300)
      return kakaoOk()
    })
    expect((await postCallback(rx.url(), body, 5000)).ok).toBe(true)
  })
})

for (const dialect of await testDialects()) {
  describe(`delivery and delivery guard (${dialect})`, () => {
    useCleanup()
    const t = useTestDb(dialect as Dialect, `delivery-guard-${dialect}`)
    let kakao: FakeKakao
    let rx: Receiver
    beforeAll(() => {
      kakao = startFakeKakao()
      rx = startReceiver()
      registerStop('server', 'fake Kakao receiver', () => kakao.close())
      registerStop('server', 'programmable receiver', () => rx.close())
    })
    afterEach(() => {
      kakao.failAll(false)
      rx.respond(kakaoOk)
    })

    const db = () => t.store.db
    let seq = 0

    /** A task of a fresh user in the state a test needs (callbackUrl on the fake Kakao unless given). */
    /**
     * `n` tasks, 25 at a time: hundreds of setups at once would each open a transaction on a pool of ten, which
     * trips a postgres.js race (sql.begin's BEGIN written without reserving its connection, porsager/postgres#823).
     */
    async function makeTasks(n: number, o: Parameters<typeof makeTask>[0]): Promise<Task[]> {
      const tasks: Task[] = []
      while (tasks.length < n)
        tasks.push(
          ...(await Promise.all(Array.from({ length: Math.min(25, n - tasks.length) }, () => makeTask(o)))),
        )
      return tasks
    }

    async function makeTask(
      o: {
        status?: TaskStatus
        aiResponse?: string | null
        started?: boolean
        url?: string | null
        expiresInMs?: number | null
        deadlineInMs?: number
        completedAgoMs?: number
      } = {},
    ): Promise<Task> {
      const now = new Date()
      const { user } = await upsertUser(db(), { botId: 'b', kakaoUserId: `dg-${dialect}-${++seq}` })
      const { conversation } = await currentConversation(db(), user.id, 30)
      const message = await insertMessage(db(), { convId: conversation.id, role: 'user', content: '안녕' })
      const inserted = await insertTask(db(), {
        userId: user.id,
        convId: conversation.id,
        messageId: message.id,
        requestId: null,
        input: {
          messages: [{ role: 'user', content: '안녕' }],
          model: 'gpt-4o',
          temperature: 0.2,
          maxTokens: 100,
          prompt: null,
        },
        callbackUrl: o.url === undefined ? kakao.callbackUrl() : o.url,
        expiresAt: o.expiresInMs === null ? null : new Date(now.getTime() + (o.expiresInMs ?? 60_000)),
        deadlineAt: new Date(now.getTime() + (o.deadlineInMs ?? 50_000)),
        maxAttempts: 3,
        now,
      })
      const status = o.status ?? 'processing'
      const started = o.started ?? status !== 'pending'
      await db().query(
        `update aiprocessingtask set status = $2, ai_response = $3, started_at = $4, completed_at = $5
          where id = $1`,
        [
          inserted!.id,
          status,
          o.aiResponse ?? null,
          started ? now : null,
          status === 'completed' || status === 'failed'
            ? new Date(now.getTime() - (o.completedAgoMs ?? 0))
            : null,
        ],
      )
      return (await getTask(db(), inserted!.id))!
    }

    const row = async (task: Task) => (await getTask(db(), task.id))!
    const eventsOf = async (task: Task) =>
      (
        await db().query<{ type: string; detail: unknown }>(
          `select type, detail from eventlog where user_id = $1 and type like 'callback%' order by created_at, id`,
          [task.userId],
        )
      ).map((e) => ({
        type: e.type,
        detail: typeof e.detail === 'string' ? JSON.parse(e.detail) : e.detail,
      }))

    const delivery = (deps: Partial<DeliveryDeps> = {}): Delivery =>
      createDelivery({ db: db(), config: configWith(), log: silent(), messages: MESSAGES, ...deps })

    describe('one delivery', () => {
      test('a ready answer: one POST with its bubbles, counted as delivered before the POST, kept after it', async () => {
        const answer = '안녕하세요! 무엇을 도와드릴까요?'
        const task = await makeTask({ status: 'completed', aiResponse: answer })
        const { metrics, callbacks } = metricsRecorder()
        let during: Task | null = null
        await delivery({
          metrics,
          post: async (url, body, ms) => {
            during = await row(task)
            return postCallback(url, body, ms)
          },
        }).deliver(task)
        const arrivals = kakao.arrivalsFor(task.callbackUrl!)
        expect(arrivals.map((a) => [a.status, a.body])).toEqual([
          ['SUCCESS', { version: '2.0', template: { outputs: [text(answer)] } }],
        ])
        // Before the POST: the user may tap "자세히" the moment Kakao shows the bubble.
        expect(during!.callbackStatus).toBe('sent')
        expect(during!.deliveredAt).not.toBeNull()
        const after = await row(task)
        expect([after.callbackStatus, after.callbackError, after.remainingText]).toEqual(['sent', null, null])
        expect(after.callbackSentAt).not.toBeNull()
        expect(after.deliveredAt?.getTime()).toBe(during!.deliveredAt!.getTime())
        expect(callbacks).toEqual(['sent'])
        expect(await eventsOf(task)).toEqual([])
      })

      test('a task handed over completed is claimed and counted delivered in one statement; one read before takes two', async () => {
        // Every statement delivery sends, and how many had been sent when the POST went out.
        const sent: string[] = []
        const recording: Db = {
          ...db(),
          query: (sql, params) => {
            sent.push(sql.trim().split(/\s+/).slice(0, 3).join(' '))
            return db().query(sql, params)
          },
        }
        let beforePost = -1
        const counting = () =>
          delivery({
            db: recording,
            post: (url, body, ms) => {
              beforePost = sent.length
              return postCallback(url, body, ms)
            },
          })
        const long = Array.from(
          { length: 8 },
          (_, i) => `${i + 1}번째 문단. ${'가나다라마 '.repeat(80)}`,
        ).join('\n\n')
        const shaped = shapeAnswer(long)

        // The worker's case: the task it just completed.
        const done = await makeTask({ status: 'completed', aiResponse: long })
        await counting().deliver(done)
        expect(beforePost).toBe(1)
        expect(sent).toEqual(['update aiprocessingtask set'])
        const first = await row(done)
        expect([first.callbackStatus, first.remainingText]).toEqual(['sent', shaped.remaining])
        expect(first.deliveredAt?.getTime()).toBe(first.callbackSentAt?.getTime())

        // A row read while the task still ran (the guard's): the claim returns the answer, a second write counts it.
        const running = await makeTask({ status: 'processing' })
        await db().query(`update aiprocessingtask set status = 'completed', ai_response = $2 where id = $1`, [
          running.id,
          long,
        ])
        sent.length = 0
        await counting().deliver(running)
        expect(beforePost).toBe(2)
        const second = await row(running)
        expect([second.callbackStatus, second.remainingText]).toEqual(['sent', shaped.remaining])
        expect(second.deliveredAt).not.toBeNull()
        expect(kakao.arrivalsFor(running.callbackUrl!)).toHaveLength(1)

        // A handed-over answer that is not the row's (never so in kbot): the row's answer goes, counted apart.
        const other = await makeTask({ status: 'completed', aiResponse: '지금 저장된 답변이에요.' })
        sent.length = 0
        await counting().deliver({ ...other, aiResponse: long })
        expect(beforePost).toBe(2)
        const third = await row(other)
        expect([third.remainingText, third.deliveredAt === null]).toEqual([null, false])
        expect(kakao.arrivalsFor(other.callbackUrl!).map((a) => a.body)).toEqual([
          { version: '2.0', template: { outputs: [text('지금 저장된 답변이에요.')] } },
        ])
      })

      test('onClaim: reported once the claim is tried, before the POST; also when another took the callback', async () => {
        const task = await makeTask({ status: 'completed', aiResponse: '네, 확인했어요.' })
        const seen: string[] = []
        const onClaim = () => seen.push(`claim, ${kakao.arrivalsFor(task.callbackUrl!).length} POSTed`)
        await delivery().deliver(task, { onClaim })
        expect(seen).toEqual(['claim, 0 POSTed'])
        expect(kakao.arrivalsFor(task.callbackUrl!)).toHaveLength(1)
        // The same task as the caller read it before: the claim is tried and lost, and still reported.
        await delivery().deliver(task, { onClaim })
        expect(seen).toEqual(['claim, 0 POSTed', 'claim, 1 POSTed'])
        expect(kakao.arrivalsFor(task.callbackUrl!)).toHaveLength(1)
      })

      test('a long answer: three bubbles and "자세히", the rest kept for it', async () => {
        const long = Array.from(
          { length: 8 },
          (_, i) => `${i + 1}번째 문단입니다. ${'가나다라마바사 '.repeat(60)}`,
        ).join('\n\n')
        const shaped = shapeAnswer(long)
        expect(shaped.remaining).not.toBeNull()
        const task = await makeTask({ status: 'completed', aiResponse: long })
        await delivery().deliver(task)
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => [a.status, a.body])).toEqual([
          [
            'SUCCESS',
            {
              version: '2.0',
              template: {
                outputs: shaped.bubbles.map(text),
                quickReplies: [
                  { label: MESSAGES.more_label, action: 'message', messageText: MESSAGES.more_label },
                ],
              },
            },
          ],
        ])
        const after = await row(task)
        expect([after.callbackStatus, after.remainingText]).toEqual(['sent', shaped.remaining])
        expect(after.deliveredAt).not.toBeNull()
      })

      test('an answer that shapes to nothing sends the failure apology instead of an empty bubble', async () => {
        const task = await makeTask({ status: 'completed', aiResponse: '' })
        await delivery().deliver(task)
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => [a.status, a.body])).toEqual([
          ['SUCCESS', { version: '2.0', template: { outputs: [text(MESSAGES.failed)] } }],
        ])
      })

      test('a failed task: the failure apology, no "답변 확인", nothing delivered', async () => {
        const task = await makeTask({ status: 'failed' })
        const { metrics, callbacks } = metricsRecorder()
        await delivery({ metrics }).deliver(task)
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => [a.status, a.body])).toEqual([
          ['SUCCESS', { version: '2.0', template: { outputs: [text(MESSAGES.failed)] } }],
        ])
        const after = await row(task)
        expect([after.callbackStatus, after.callbackError, after.deliveredAt]).toEqual(['sent', null, null])
        expect(callbacks).toEqual(['sent'])
      })

      test('a task still running: the "slow" apology with a "답변 확인" button for this very task', async () => {
        const task = await makeTask({ status: 'processing' })
        await delivery().deliver(task)
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => [a.status, a.body])).toEqual([
          [
            'SUCCESS',
            {
              version: '2.0',
              template: { outputs: [text(MESSAGES.slow)], quickReplies: [checkButton(task.id)] },
            },
          ],
        ])
        const after = await row(task)
        expect([after.callbackStatus, after.callbackError, after.deliveredAt, after.remainingText]).toEqual([
          'sent',
          null,
          null,
          null,
        ])
      })

      test('a task never started (queue too deep): the "busy" apology with "답변 확인"', async () => {
        const task = await makeTask({ status: 'pending' })
        await delivery().deliver(task)
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => a.body)).toEqual([
          {
            version: '2.0',
            template: { outputs: [text(MESSAGES.busy)], quickReplies: [checkButton(task.id)] },
          },
        ])
      })

      test('a completed task without an answer text is not an answer: the apology goes out', async () => {
        const task = await makeTask({ status: 'completed', aiResponse: null })
        await delivery().deliver(task)
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => a.body)).toEqual([
          {
            version: '2.0',
            template: { outputs: [text(MESSAGES.slow)], quickReplies: [checkButton(task.id)] },
          },
        ])
        expect((await row(task)).deliveredAt).toBeNull()
      })

      test('an answer Kakao refuses is taken back: rejected, not delivered, its rest dropped, an event', async () => {
        const long = Array.from({ length: 6 }, () => `${'하나둘셋넷 '.repeat(200)}`).join('\n\n')
        const task = await makeTask({ status: 'completed', aiResponse: long })
        kakao.failAll(true, 400)
        const { metrics, callbacks } = metricsRecorder()
        const { log, lines } = capturingLogger()
        await delivery({ metrics, log }).deliver(task)
        const message = 'Invalid callback token. Check your callback token.'
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => a.status)).toEqual(['FAIL'])
        const after = await row(task)
        expect([after.callbackStatus, after.callbackError, after.deliveredAt, after.remainingText]).toEqual([
          'rejected',
          message,
          null,
          null,
        ])
        expect(callbacks).toEqual(['rejected'])
        expect(await eventsOf(task)).toEqual([
          {
            type: 'callback_rejected',
            detail: { task_id: task.id, http_status: 400, kakao_status: 'FAIL', message },
          },
        ])
        expect(lines.map((l) => [l.level, l.taskId])).toEqual([[40, task.id]])
      })

      test('a refused apology without a reason is recorded with its HTTP status', async () => {
        rx.respond(() => new Response('', { status: 502 }))
        const task = await makeTask({ status: 'processing', url: rx.url() })
        await delivery().deliver(task)
        const after = await row(task)
        expect([after.callbackStatus, after.callbackError, after.deliveredAt]).toEqual([
          'rejected',
          'HTTP 502',
          null,
        ])
        expect(await eventsOf(task)).toEqual([
          {
            type: 'callback_rejected',
            detail: { task_id: task.id, http_status: 502, kakao_status: null, message: 'HTTP 502' },
          },
        ])
      })

      test('the claim: two deliveries of one task at the same moment make one POST, and a later one none', async () => {
        const task = await makeTask({ status: 'completed', aiResponse: '한 번만 보내요.' })
        const { metrics, callbacks } = metricsRecorder()
        const d = delivery({ metrics })
        await Promise.all([d.deliver(task), d.deliver(task)])
        await d.deliver(task)
        await delivery().deliver(await row(task))
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => a.status)).toEqual(['SUCCESS'])
        expect(callbacks).toEqual(['sent'])
        expect((await row(task)).callbackStatus).toBe('sent')
      })

      test('a task handed over as used, without a URL or already expired is left alone', async () => {
        const task = await makeTask({ status: 'completed', aiResponse: '보내지 마세요.' })
        const d = delivery()
        await d.deliver({ ...task, callbackStatus: 'sent' })
        await d.deliver({ ...task, callbackStatus: 'none' })
        await d.deliver({ ...task, callbackUrl: null })
        await d.deliver({ ...task, expiresAt: new Date(Date.now() - 1) })
        expect(kakao.arrivalsFor(task.callbackUrl!)).toEqual([])
        const after = await row(task)
        expect([after.callbackStatus, after.callbackSentAt, after.deliveredAt]).toEqual([
          'pending',
          null,
          null,
        ])
      })

      test('a callbackUrl in its last half second is not used', async () => {
        const task = await makeTask({ status: 'completed', aiResponse: '늦었어요.', expiresInMs: 300 })
        await delivery().deliver(task)
        expect(kakao.arrivalsFor(task.callbackUrl!)).toEqual([])
        expect((await row(task)).callbackStatus).toBe('pending')
      })

      test('the POST waits until the ack has had callback_settle_ms to land', async () => {
        const task = await makeTask({ status: 'completed', aiResponse: '천천히요.' })
        await delivery({ config: configWith({ settleMs: 300 }) }).deliver(task)
        const [arrival] = kakao.arrivalsFor(task.callbackUrl!)
        expect(arrival!.status).toBe('SUCCESS')
        // A lower bound, not a duration budget: the callback must not race the skill response.
        expect(arrival!.at).toBeGreaterThanOrEqual(task.createdAt.getTime() + 300 - 2)
      })

      test("the POST's time limit is the URL's remaining life, at most 10 s", async () => {
        const limits: number[] = []
        const post = async (url: string, body: Parameters<typeof postCallback>[1], ms: number) => {
          limits.push(ms)
          return postCallback(url, body, ms)
        }
        const d = delivery({ post })
        const soon = await makeTask({ status: 'processing', expiresInMs: 5000 })
        const later = await makeTask({ status: 'processing', expiresInMs: 60_000 })
        const never = await makeTask({ status: 'processing', expiresInMs: null })
        await d.deliver(soon)
        await d.deliver(later)
        await d.deliver(never)
        expect(limits).toHaveLength(3)
        expect(limits[0]).toBeLessThanOrEqual(5000)
        expect(limits[0]).toBeGreaterThan(3000)
        expect(limits.slice(1)).toEqual([10_000, 10_000])
        expect((await row(never)).callbackStatus).toBe('sent')
      })
    })

    describe('the delivery guard', () => {
      const guardOf = (
        o: { db?: Db; log?: Logger; metrics?: Metrics; delivery?: Delivery; intervalMs?: number } = {},
      ) => {
        const config = configWith({ intervalMs: o.intervalMs })
        const d =
          o.delivery ?? createDelivery({ db: o.db ?? db(), config, log: silent(), messages: MESSAGES })
        const guard = createDeliveryGuard({
          db: o.db ?? db(),
          config,
          log: o.log ?? silent(),
          delivery: d,
          metrics: o.metrics,
        })
        registerStop('bot', 'delivery guard', () => guard.stop())
        return guard
      }
      // Callbacks left pending by the tests above are not this block's business: each pass sees only its own.
      beforeEach(async () => {
        await db().query(
          `update aiprocessingtask set callback_status = 'none' where callback_status = 'pending'`,
        )
      })

      test('a pass marks callbacks past their life expired, counts them and logs an event; nothing is POSTed', async () => {
        const task = await makeTask({ status: 'processing', expiresInMs: -1000, deadlineInMs: -2000 })
        const { metrics, callbacks } = metricsRecorder()
        const { log, lines } = capturingLogger()
        const guard = guardOf({ metrics, log })
        await guard.sweep()
        await guard.stop()
        expect((await row(task)).callbackStatus).toBe('expired')
        expect(lines.map((l) => [l.level, l.component, l.taskId])).toEqual([[40, 'delivery-guard', task.id]])
        expect(callbacks).toEqual(['expired'])
        expect(await eventsOf(task)).toEqual([
          { type: 'callback_expired', detail: { task_id: task.id, status: 'processing' } },
        ])
        expect(kakao.arrivalsFor(task.callbackUrl!)).toEqual([])
      })

      test('without metrics the expiry is still recorded', async () => {
        const task = await makeTask({ status: 'pending', expiresInMs: -1000, deadlineInMs: -2000 })
        await guardOf().sweep()
        expect((await row(task)).callbackStatus).toBe('expired')
        expect(await eventsOf(task)).toEqual([
          { type: 'callback_expired', detail: { task_id: task.id, status: 'pending' } },
        ])
      })

      test('a pass delivers each due callback once, and leaves the others alone', async () => {
        const late = await makeTask({ status: 'processing', deadlineInMs: -100 })
        const starved = await makeTask({ status: 'pending', deadlineInMs: 2000 })
        const orphan = await makeTask({
          status: 'completed',
          aiResponse: '워커가 못 보낸 답',
          completedAgoMs: 5000,
        })
        const early = await makeTask({ status: 'processing', deadlineInMs: 40_000 })
        const guard = guardOf()
        await guard.sweep()
        await guard.stop()
        await guardOf().sweep()
        const bodies = (task: Task) => kakao.arrivalsFor(task.callbackUrl!).map((a) => a.body)
        expect(bodies(late)).toEqual([
          {
            version: '2.0',
            template: { outputs: [text(MESSAGES.slow)], quickReplies: [checkButton(late.id)] },
          },
        ])
        expect(bodies(starved)).toEqual([
          {
            version: '2.0',
            template: { outputs: [text(MESSAGES.busy)], quickReplies: [checkButton(starved.id)] },
          },
        ])
        expect(bodies(orphan)).toEqual([
          { version: '2.0', template: { outputs: [text('워커가 못 보낸 답')] } },
        ])
        expect(bodies(early)).toEqual([])
        expect((await row(early)).callbackStatus).toBe('pending')
        expect((await row(orphan)).deliveredAt).not.toBeNull()
      })

      test('a burst: one pass sends every due callback, more than one batch of them, each once', async () => {
        // 250 fall due together (the guard reads 100 at a time): a pass of one batch would leave 150 to the
        // next ticks, and under a long burst they expire faster than ticks come.
        const tasks = await makeTasks(250, { status: 'processing', deadlineInMs: -100 })
        const guard = guardOf()
        await guard.sweep()
        await guard.stop()
        const posts = tasks.map((task) => kakao.arrivalsFor(task.callbackUrl!).length)
        expect(posts.filter((n) => n === 1).length).toBe(250)
        const rows = await db().query<{ n: number }>(
          `select count(*) as n from aiprocessingtask where id in (${tasks.map((_, i) => `$${i + 1}`).join(', ')})
              and callback_status = 'sent'`,
          tasks.map((task) => task.id),
        )
        expect(Number(rows[0]!.n)).toBe(250)
      })

      test("a burst is sent at the receiver's pace: at most 200 of the guard's deliveries at once", async () => {
        const tasks = await makeTasks(450, { status: 'processing', deadlineInMs: -100 })
        let now = 0
        let most = 0
        const sent = new Set<string>()
        const guard = guardOf({
          delivery: {
            // Takes the callback like the real one, then a slow receiver: a second per "POST", far longer
            // than the guard takes to read and claim the next batches (milliseconds each).
            deliver: async (task, opts) => {
              now++
              most = Math.max(most, now)
              const mine = await claimCallback(db(), task.id)
              opts?.onClaim?.()
              await Bun.sleep(1000)
              if (mine) sent.add(task.id)
              now--
            },
          },
        })
        await guard.sweep()
        await guard.stop()
        expect(sent.size).toBe(450)
        expect(tasks.every((task) => sent.has(task.id))).toBe(true)
        expect(most).toBe(200)
      })

      test('one pass at a time: a sweep while one runs joins it; the next sweep is a new pass', async () => {
        const guard = guardOf()
        const first = guard.sweep()
        expect(guard.sweep()).toBe(first)
        await first
        const task = await makeTask({ status: 'processing', deadlineInMs: -100 })
        const second = guard.sweep()
        expect(second).not.toBe(first)
        await second
        await guard.stop()
        expect(kakao.arrivalsFor(task.callbackUrl!).map((a) => a.status)).toEqual(['SUCCESS'])
      })

      test('a delivery that throws does not break the pass or stop()', async () => {
        const task = await makeTask({ status: 'processing', deadlineInMs: -100 })
        const tried: string[] = []
        const { log, lines } = capturingLogger()
        const guard = guardOf({
          log,
          delivery: {
            deliver: async (t) => {
              tried.push(t.id)
              throw new Error('boom')
            },
          },
        })
        await guard.sweep()
        await guard.stop()
        expect(tried).toEqual([task.id])
        // An error line (a person must act) names the task and carries the error.
        expect(
          lines.map((l) => [l.level, l.component, l.taskId, (l.err as { message?: string })?.message]),
        ).toEqual([[50, 'delivery-guard', task.id, 'boom']])
      })

      test('a failing pass is caught, logged once per 10 s, and retried on the next tick', async () => {
        let broken = true
        let failures = 0
        const real = db()
        const flaky: Db = {
          dialect: real.dialect,
          query: async (sql, params) => {
            if (broken) {
              failures++
              throw new Error('database unavailable')
            }
            return real.query(sql, params)
          },
          tx: (fn) => real.tx(fn),
          exec: (sql) => real.exec(sql),
          close: async () => {},
        }
        const { log, lines } = capturingLogger()
        const guard = guardOf({ db: flaky, log, intervalMs: 20 })
        await expect(guard.sweep()).resolves.toBeUndefined()
        guard.start()
        await waitFor(() => failures >= 3, { what: 'three failed passes', timeoutMs: 3000 })
        expect(lines.map((l) => [l.level, l.component, (l.err as { message?: string })?.message])).toEqual([
          [40, 'delivery-guard', 'database unavailable'],
        ])
        const task = await makeTask({ status: 'processing', deadlineInMs: -100 })
        broken = false
        await waitFor(() => kakao.arrivalsFor(task.callbackUrl!).length === 1, {
          what: 'the retried pass',
          timeoutMs: 3000,
        })
        await guard.stop()
        expect((await row(task)).callbackStatus).toBe('sent')
      })

      test('start() sweeps at once and then on every tick; stop() ends the ticks; start() again resumes', async () => {
        const now = await makeTask({ status: 'processing', deadlineInMs: -100 })
        const guard = guardOf({ intervalMs: 60_000 })
        guard.start()
        await waitFor(() => kakao.arrivalsFor(now.callbackUrl!).length === 1, {
          what: 'the first pass',
          timeoutMs: 3000,
        })
        await guard.stop()
        const ticking = guardOf({ intervalMs: 20 })
        ticking.start()
        await ticking.sweep() // the first pass, joined
        const onTick = await makeTask({ status: 'processing', deadlineInMs: -100 })
        await waitFor(() => kakao.arrivalsFor(onTick.callbackUrl!).length === 1, {
          what: 'a tick',
          timeoutMs: 3000,
        })
        await ticking.stop()
        ticking.start()
        await ticking.sweep()
        const afterRestart = await makeTask({ status: 'processing', deadlineInMs: -100 })
        await waitFor(() => kakao.arrivalsFor(afterRestart.callbackUrl!).length === 1, {
          what: 'a tick after restart',
          timeoutMs: 3000,
        })
        await ticking.stop()
      })

      test('a second start() makes no second timer; stop() clears the one', async () => {
        const INTERVAL = 45_678
        const setSpy = spyOn(globalThis, 'setInterval')
        const clearSpy = spyOn(globalThis, 'clearInterval')
        try {
          const guard = guardOf({ intervalMs: INTERVAL })
          guard.start()
          guard.start()
          const mine = setSpy.mock.calls
            .map((call, i) => ({
              ms: call[1],
              timer: setSpy.mock.results[i]!.value as ReturnType<typeof setInterval>,
            }))
            .filter((c) => c.ms === INTERVAL)
          expect(mine).toHaveLength(1)
          await guard.stop()
          expect(clearSpy.mock.calls.map((c) => c[0])).toContain(mine[0]!.timer)
          await guard.stop()
        } finally {
          setSpy.mockRestore()
          clearSpy.mockRestore()
        }
      })

      test('stop() waits for the pass in flight', async () => {
        const task = await makeTask({ status: 'processing', expiresInMs: -1000, deadlineInMs: -2000 })
        const real = db()
        // A slow database: every statement takes a timer turn, so an unawaited pass would still be running.
        const slow: Db = {
          dialect: real.dialect,
          query: async (sql, params) => {
            await Bun.sleep(15)
            return real.query(sql, params)
          },
          tx: (fn) => real.tx(fn),
          exec: (sql) => real.exec(sql),
          close: async () => {},
        }
        const guard = guardOf({ db: slow, intervalMs: 60_000 })
        guard.start()
        await guard.stop()
        expect((await row(task)).callbackStatus).toBe('expired')
        expect((await eventsOf(task)).map((e) => e.type)).toEqual(['callback_expired'])
      })

      test('stop() waits for every delivery in flight to be written', async () => {
        let release!: () => void
        const held = new Promise<void>((r) => {
          release = r
        })
        rx.respond(async () => {
          await held
          return Response.json({ status: 'FAIL', message: 'too late' }, { status: 400 })
        })
        const url = rx.url()
        const task = await makeTask({ status: 'processing', deadlineInMs: -100, url })
        const guard = guardOf()
        await guard.sweep()
        await waitFor(() => rx.hits.some((h) => url.endsWith(h.path)), { what: 'the POST to arrive' })
        const stopped = guard.stop()
        release()
        await stopped
        const after = await row(task)
        expect([after.callbackStatus, after.callbackError]).toEqual(['rejected', 'too late'])
        expect((await eventsOf(task)).map((e) => e.type)).toEqual(['callback_rejected'])
      })
    })
  })
}
