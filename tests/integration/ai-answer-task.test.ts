/**
 * The ai_answer task's promises on the real queue runner and store, with a scripted model, a recording delivery
 * and a scripted moderation endpoint: what one attempt writes (message, promptlog, completion) in one fenced
 * transaction, the callback promise (apology before a hopeless attempt or retry, the answer or the failure
 * after), deferred inputs, retries past the deadline on the model's word, and the moderation second opinion.
 * Fast on purpose: it runs per mutant under `bun run mutate queue`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import OpenAI from 'openai'
import type { AiCallOptions, AiClient, AiResult } from '../../src/ai/client.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import type { Delivery } from '../../src/delivery/delivery.ts'
import { silentLogger } from '../../src/logger.ts'
import { noMetrics } from '../../src/metrics/registry.ts'
import { createQueueRunner } from '../../src/queue/runner.ts'
import { currentConversation } from '../../src/store/conversations.ts'
import type { Db, Dialect } from '../../src/store/db.ts'
import { insertMessage } from '../../src/store/messages.ts'
import {
  AI_ANSWER_KIND,
  type DeferredInput,
  enqueueTask,
  insertTask,
  type Task,
  type TaskInput,
} from '../../src/store/tasks.ts'
import { setUserName, upsertUser } from '../../src/store/users.ts'
import { aiAnswerHandler } from '../../src/tasks/ai-answer.ts'
import { registerStop, tempDir, useCleanup } from '../helpers/cleanup.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { waitWithin } from '../helpers/wait.ts'

/** Conditions here hold within a few hundred ms: a short deadline keeps a mutant's run short under Stryker. */
const waitFor = waitWithin(4000)

type Row = Record<string, any>

const baseConfig = loadConfig({ env: {}, cwd: tempDir('ai-answer-config') })
const MIN_ATTEMPT_MS = 1000
const TIMEOUT_MS = 20_000
const configWith = (moderation: boolean): Config => ({
  ...baseConfig,
  worker: { ...baseConfig.worker, min_attempt_ms: MIN_ATTEMPT_MS },
  openai: { ...baseConfig.openai, timeout_ms: TIMEOUT_MS },
  safety: { ...baseConfig.safety, moderation, moderation_model: 'mod-test' },
})

const inputOf = (...utterances: string[]): TaskInput => ({
  messages: [
    { role: 'system', content: 'be kind' },
    ...utterances.map((u) => ({ role: 'user' as const, content: u })),
  ],
  model: 'gpt-test',
  temperature: 0.5,
  maxTokens: 300,
  prompt: null,
})
const lastUtterance = (input: TaskInput) => input.messages.findLast((m) => m.role === 'user')?.content ?? ''

const answer = (text: string): AiResult => ({
  text,
  model: 'gpt-test-2',
  promptTokens: 7,
  completionTokens: 5,
  totalTokens: 12,
  cachedTokens: 0,
  latencyMs: 10,
  costUsd: 0.001,
})

const rateLimited = (retryAfterMs: number) =>
  new OpenAI.RateLimitError(
    429,
    undefined,
    'slow down',
    new Headers({ 'retry-after-ms': String(retryAfterMs) }),
  )

type Script = (attempt: number) => Promise<AiResult> | AiResult

for (const dialect of await testDialects()) {
  describe(`ai_answer task (${dialect})`, () => {
    useCleanup()
    let t: TestDb
    let userId: string
    /** The model: what each utterance gets, per attempt; every call recorded in order. */
    const scripts = new Map<string, Script>()
    const modelCalls: { utterance: string; input: TaskInput; options: AiCallOptions }[] = []
    /** The callback: every deliver() in order, with the task as the handler saw it. */
    const delivered: { id: string; status: string; aiResponse: string | null }[] = []
    const moderationCalls: { model: string; input: string }[] = []
    const moderationScripts = new Map<string, () => unknown>()
    const events: string[] = []
    const models: AiResult[] = []
    let flagged = 0

    const ai = (withSdk: boolean): AiClient => ({
      configured: true,
      defaultModel: 'gpt-test',
      sdk: withSdk
        ? ({
            moderations: {
              async create(body: { model: string; input: string }) {
                moderationCalls.push(body)
                const script = moderationScripts.get(body.input)
                if (!script) throw new Error('moderation endpoint down')
                return script()
              },
            },
          } as unknown as AiClient['sdk'])
        : null,
      async complete(input, options) {
        const utterance = lastUtterance(input)
        modelCalls.push({ utterance, input, options })
        events.push(`model ${utterance}`)
        const attempt = modelCalls.filter((c) => c.utterance === utterance).length
        return (scripts.get(utterance) ?? (() => answer(`re: ${utterance}`)))(attempt)
      },
    })

    /** Delivers like the real one as far as the task goes: the callback is used once. */
    const delivery: Delivery = {
      async deliver(task) {
        delivered.push({ id: task.id, status: task.status, aiResponse: task.aiResponse })
        events.push(`deliver ${task.id}`)
        await t.store.db.query("update aiprocessingtask set callback_status = 'sent' where id = $1", [
          task.id,
        ])
      },
    }

    const answering = async (
      opts: { moderation?: boolean; sdk?: boolean; compose?: (task: Task) => Promise<TaskInput> } = {},
    ) => {
      // The runner's database, every statement recorded (the handler's writes go through its transaction).
      const statements: { sql: string; params: readonly unknown[] }[] = []
      const wrap = (inner: Db): Db => ({
        dialect: inner.dialect,
        query: (sql, params) => {
          statements.push({ sql, params: params ?? [] })
          return inner.query(sql, params)
        },
        tx: (fn) => inner.tx((tx) => fn(wrap(tx))),
        exec: (sql) => inner.exec(sql),
        close: () => inner.close(),
      })
      const db = wrap(t.store.db)
      const metrics = {
        ...noMetrics,
        model: (call: AiResult) => void models.push(call),
        crisisFlagged: () => void flagged++,
      }
      const handler = aiAnswerHandler({
        db: t.store.db,
        config: configWith(opts.moderation ?? false),
        ai: ai(opts.sdk ?? true),
        delivery,
        metrics,
        compose: opts.compose,
      })
      const runner = createQueueRunner({
        db,
        notifier: null,
        log: silentLogger(),
        metrics,
        concurrency: 4,
        leaseMs: 5000,
        pollMs: 60_000,
        handlers: [handler],
      })
      registerStop('bot', 'ai_answer runner', () => runner.stop(0))
      await runner.start()
      return { runner, statements }
    }

    beforeAll(async () => {
      t = await createTestDb(dialect as Dialect, `ai-answer-${dialect}`)
      userId = (await upsertUser(t.store.db, { botId: 'bot', kakaoUserId: 'u-answer' })).user.id
      await setUserName(t.store.db, userId, '지은')
    })
    afterAll(() => t.drop())

    const rowOf = async (id: string) =>
      (await t.store.db.query<Row>('select * from aiprocessingtask where id = $1', [id]))[0]!
    const rowWhen = (id: string, ok: (r: Row) => boolean) =>
      waitFor(async () => {
        const r = await rowOf(id)
        return ok(r) ? r : null
      })
    const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v)

    /** A Kakao turn's task: its own conversation and user message; a live callback unless told otherwise. */
    const turn = async (
      input: TaskInput | DeferredInput,
      opts: { deadlineInMs?: number; callback?: boolean; maxAttempts?: number } = {},
    ) => {
      const now = new Date()
      const conv = (await currentConversation(t.store.db, userId, 0, now)).conversation
      await t.store.db.query('update conversation set last_activity_at = $2 where id = $1', [
        conv.id,
        new Date(now.getTime() - 3_600_000),
      ])
      const message = await insertMessage(t.store.db, { convId: conv.id, role: 'user', content: 'hi' })
      const task = await insertTask(t.store.db, {
        userId,
        convId: conv.id,
        messageId: message.id,
        requestId: null,
        input,
        callbackUrl: opts.callback === false ? null : `http://callback.test/${message.id}`,
        expiresAt: null,
        deadlineAt: new Date(now.getTime() + (opts.deadlineInMs ?? 60_000)),
        maxAttempts: opts.maxAttempts ?? 3,
        now,
      })
      return { task: task!, convId: conv.id }
    }

    test('an answer: message, promptlog and completion are written together, then the answer is delivered', async () => {
      scripts.set('hello?', () => answer('hello there'))
      const { runner, statements } = await answering({ moderation: false })
      const started = Date.now()
      const { task, convId } = await turn(inputOf('hello?'), { deadlineInMs: 10_000 })
      runner.wake()
      const row = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(row).toMatchObject({ ai_response: 'hello there', error: null })
      expect(Number(row.tokens_used)).toBe(12)
      expect(json(row.input)).toEqual(inputOf('hello?'))
      const [msg] = await t.store.db.query<Row>('select * from message where id = $1', [
        row.response_message_id,
      ])
      expect(msg).toMatchObject({ conv_id: convId, role: 'assistant', content: 'hello there' })
      expect(Number(msg!.tokens)).toBe(5)
      const [log] = await t.store.db.query<Row>('select * from promptlog where msg_id = $1', [msg!.id])
      expect(log).toMatchObject({ task_id: task.id, user_id: userId, model: 'gpt-test-2', max_tokens: 300 })
      expect(json(log!.messages)).toEqual(inputOf('hello?').messages)
      const [conv] = await t.store.db.query<Row>('select last_activity_at from conversation where id = $1', [
        convId,
      ])
      expect(new Date(conv!.last_activity_at).getTime()).toBeGreaterThanOrEqual(started)

      const call = modelCalls.find((c) => c.utterance === 'hello?')!
      expect(call.input).toEqual(inputOf('hello?'))
      expect(call.options.signal).toBeInstanceOf(AbortSignal)
      expect(call.options.signal!.aborted).toBe(false)
      // Capped by the time left before the delivery deadline (10 s), not the configured 20 s.
      expect(call.options.timeoutMs).toBeLessThanOrEqual(10_000)
      expect(call.options.timeoutMs).toBeGreaterThan(5_000)
      await waitFor(() => delivered.some((d) => d.id === task.id))
      expect(delivered.filter((d) => d.id === task.id)).toEqual([
        { id: task.id, status: 'completed', aiResponse: 'hello there' },
      ])
      expect(models.filter((m) => m.text === 'hello there')).toHaveLength(1)
      // Moderation is off: never asked. The stored input is the task's own: the completion leaves it (no $7).
      expect(moderationCalls.filter((c) => c.input === 'hello?')).toEqual([])
      const completions = statements.filter((s) => s.sql.includes("set status = 'completed'"))
      expect(completions.map((s) => s.params[0])).toEqual([task.id])
      expect(completions[0]!.params[6]).toBeNull()
      await runner.stop(1000)
    })

    test('a task without a conversation or callback records the answer on the task only', async () => {
      scripts.set('no turn', () => answer('just the answer'))
      const { runner } = await answering({ moderation: true })
      const task = (await enqueueTask(t.store.db, {
        kind: AI_ANSWER_KIND,
        input: inputOf('no turn'),
        deadlineAt: new Date(Date.now() + 60_000),
        maxAttempts: 1,
      }))!
      runner.wake()
      const row = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(row).toMatchObject({
        ai_response: 'just the answer',
        response_message_id: null,
        callback_status: 'none',
      })
      expect(Number(row.tokens_used)).toBe(12)
      const logs = await t.store.db.query<Row>('select * from promptlog where task_id = $1', [task.id])
      expect(logs).toEqual([])
      // No conversation, no user: no second opinion either; no callback to use.
      expect(moderationCalls.filter((c) => c.input === 'no turn')).toEqual([])
      expect(delivered.filter((d) => d.id === task.id)).toEqual([])
      await runner.stop(1000)
    })

    test('a deferred input is composed when the task runs and kept on the task; without a composer it fails', async () => {
      scripts.set('composed words', () => answer('from the composed input'))
      const composedFor: string[] = []
      const deferred: DeferredInput = {
        v: 2,
        utterance: 'raw words',
        promptName: 'default',
        vars: {},
        receivedAt: new Date().toISOString(),
      }
      const composing = await answering({
        compose: async (task) => {
          composedFor.push(task.id)
          return inputOf('composed words')
        },
      })
      const { task } = await turn(deferred)
      composing.runner.wake()
      const row = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(composedFor).toEqual([task.id])
      expect(json(row.input)).toEqual(inputOf('composed words'))
      // Written by the completion's own update: the task row is updated once after its claim, not twice.
      const writes = composing.statements.filter((s) => /^\s*update aiprocessingtask/.test(s.sql))
      expect(writes.filter((s) => s.params[0] === task.id).map((s) => s.sql.includes('input ='))).toEqual([
        true,
      ])
      expect(modelCalls.find((c) => c.utterance === 'composed words')!.input).toEqual(
        inputOf('composed words'),
      )
      const [log] = await t.store.db.query<Row>('select messages from promptlog where task_id = $1', [
        task.id,
      ])
      expect(json(log!.messages)).toEqual(inputOf('composed words').messages)
      await composing.runner.stop(1000)

      const bare = await answering()
      const lost = await turn({ ...deferred, utterance: 'nobody composes this' })
      bare.runner.wake()
      const failed = await rowWhen(lost.task.id, (r) => r.status === 'failed')
      expect(failed).toMatchObject({ error: 'a deferred ai_answer task needs the pipeline to compose it' })
      expect(Number(failed.attempts)).toBe(1)
      // The callback carries the failure.
      await waitFor(() => delivered.some((d) => d.id === lost.task.id))
      expect(delivered.filter((d) => d.id === lost.task.id).map((d) => d.status)).toEqual(['failed'])
      await bare.runner.stop(1000)
    })

    test('too late for the callback: the apology goes out before the model call, which gets its full timeout', async () => {
      let apologised: () => void = () => {}
      const apology = new Promise<void>((resolve) => {
        apologised = resolve
      })
      scripts.set('late', async () => {
        await apology
        return answer('late answer')
      })
      scripts.set('late, no callback', () => answer('nobody waits'))
      const { runner } = await answering()
      const { task } = await turn(inputOf('late'), { deadlineInMs: MIN_ATTEMPT_MS / 2 })
      const quiet = await turn(inputOf('late, no callback'), {
        deadlineInMs: MIN_ATTEMPT_MS / 2,
        callback: false,
      })
      runner.wake()
      await waitFor(() => delivered.some((d) => d.id === task.id))
      await waitFor(async () => (await rowOf(task.id)).callback_status === 'sent')
      apologised()
      const row = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(row.ai_response).toBe('late answer')
      await rowWhen(quiet.task.id, (r) => r.status === 'completed')
      // One delivery (the apology, before the model ran); the answer waits for "답변 확인".
      expect(delivered.filter((d) => d.id === task.id)).toEqual([
        { id: task.id, status: 'processing', aiResponse: null },
      ])
      expect(events.indexOf(`deliver ${task.id}`)).toBeLessThan(events.indexOf('model late'))
      expect(modelCalls.find((c) => c.utterance === 'late')!.options.timeoutMs).toBe(TIMEOUT_MS)
      expect(modelCalls.find((c) => c.utterance === 'late, no callback')!.options.timeoutMs).toBe(TIMEOUT_MS)
      expect(delivered.filter((d) => d.id === quiet.task.id)).toEqual([])
      await runner.stop(1000)
    })

    test('a retry waits as long as the model asked, even past the deadline; the apology goes now if it cannot make it', async () => {
      scripts.set('retry far', (attempt) => {
        if (attempt === 1) throw rateLimited(5000)
        return answer('never')
      })
      scripts.set('retry soon', (attempt) => {
        if (attempt === 1) throw rateLimited(50)
        return answer('second time lucky')
      })
      scripts.set('retry near', (attempt) => {
        if (attempt === 1) throw rateLimited(4500)
        return answer('never')
      })
      scripts.set('retry far, no callback', (attempt) => {
        if (attempt === 1) throw rateLimited(5000)
        return answer('never')
      })
      const { runner } = await answering({ moderation: true })
      moderationScripts.set('retry soon', () => ({
        model: 'mod-test',
        results: [{ categories: {}, category_scores: {} }],
      }))
      const far = await turn(inputOf('retry far'), { deadlineInMs: 3000 })
      const soon = await turn(inputOf('retry soon'), { deadlineInMs: 60_000 })
      // Before the deadline, but with less than an attempt's time left then: apologise now too.
      const near = await turn(inputOf('retry near'), { deadlineInMs: 5000 })
      const quiet = await turn(inputOf('retry far, no callback'), { deadlineInMs: 3000, callback: false })
      const before = Date.now()
      runner.wake()
      const farRow = await rowWhen(far.task.id, (r) => r.status === 'pending' && r.error !== null)
      expect(farRow.error).toBe('rate limited (429)')
      expect(Number(farRow.attempts)).toBe(1)
      // Not capped by the deadline (3 s ahead): the model said 5 s.
      expect(new Date(farRow.run_after).getTime()).toBeGreaterThanOrEqual(before + 5000)
      expect(new Date(farRow.run_after).getTime()).toBeLessThanOrEqual(Date.now() + 5000)
      await waitFor(() => delivered.some((d) => d.id === far.task.id))
      expect(delivered.filter((d) => d.id === far.task.id).map((d) => d.status)).toEqual(['processing'])

      await rowWhen(near.task.id, (r) => r.status === 'pending' && r.error !== null)
      await waitFor(() => delivered.some((d) => d.id === near.task.id))
      expect(delivered.filter((d) => d.id === near.task.id).map((d) => d.status)).toEqual(['processing'])
      // Now, with the retry: not when the next attempt starts too late.
      expect(modelCalls.filter((c) => c.utterance === 'retry near')).toHaveLength(1)

      const soonRow = await rowWhen(soon.task.id, (r) => r.status === 'completed')
      expect(soonRow.ai_response).toBe('second time lucky')
      expect(Number(soonRow.attempts)).toBe(2)
      await waitFor(() => delivered.some((d) => d.id === soon.task.id))
      // Only the answer: the retry was soon enough for the callback to wait.
      expect(delivered.filter((d) => d.id === soon.task.id).map((d) => d.status)).toEqual(['completed'])
      // The second opinion is asked on the first attempt only.
      expect(moderationCalls.filter((c) => c.input === 'retry soon')).toHaveLength(1)

      await rowWhen(quiet.task.id, (r) => r.status === 'pending' && r.error !== null)
      expect(delivered.filter((d) => d.id === quiet.task.id)).toEqual([])
      await runner.stop(0)
    })

    test('a failure for good is delivered as the apology when a callback waits, and not otherwise', async () => {
      const refused = () => {
        throw new OpenAI.BadRequestError(400, undefined, 'bad request', new Headers())
      }
      scripts.set('refused', refused)
      scripts.set('refused, no callback', refused)
      const { runner } = await answering()
      const { task } = await turn(inputOf('refused'))
      const quiet = await turn(inputOf('refused, no callback'), { callback: false })
      runner.wake()
      const row = await rowWhen(task.id, (r) => r.status === 'failed')
      expect(row.error).toStartWith('model refused the request (400)')
      expect(Number(row.attempts)).toBe(1)
      await rowWhen(quiet.task.id, (r) => r.status === 'failed')
      await waitFor(() => delivered.some((d) => d.id === task.id))
      expect(delivered.filter((d) => d.id === task.id).map((d) => d.status)).toEqual(['failed'])
      expect(delivered.filter((d) => d.id === quiet.task.id)).toEqual([])
      await runner.stop(1000)
    })

    test('the moderation second opinion flags what it finds, stays quiet otherwise, and never blocks the answer', async () => {
      for (const u of ['hurt myself', 'a fine day', 'endpoint down', 'no one to ask'])
        scripts.set(u, () => answer(`re: ${u}`))
      moderationScripts.set('hurt myself', () => ({
        model: 'mod-test',
        results: [{ categories: { 'self-harm': true }, category_scores: { 'self-harm': 0.91 } }],
      }))
      moderationScripts.set('a fine day', () => ({
        model: 'mod-test',
        results: [{ categories: { 'self-harm': false }, category_scores: { 'self-harm': 0.01 } }],
      }))
      const { runner } = await answering({ moderation: true })
      const flaggedBefore = flagged
      // The utterance asked about is the last user message.
      const hurt = await turn(inputOf('earlier words', 'hurt myself'))
      const fine = await turn(inputOf('a fine day'))
      const down = await turn(inputOf('endpoint down'))
      const noUtterance = await turn({
        ...inputOf(),
        messages: [{ role: 'system', content: 'no one to ask' }],
      })
      runner.wake()
      for (const { task } of [hurt, fine, down, noUtterance])
        await rowWhen(task.id, (r) => r.status === 'completed')
      const asked = moderationCalls.filter((c) =>
        ['hurt myself', 'a fine day', 'earlier words'].includes(c.input),
      )
      expect(asked.map((c) => c.input).sort()).toEqual(['a fine day', 'hurt myself'])
      expect(asked.map((c) => c.model)).toEqual(['mod-test', 'mod-test'])
      expect(moderationCalls.filter((c) => c.input === 'endpoint down')).toHaveLength(1)
      // Nothing the user said: nothing to ask about.
      expect(moderationCalls.filter((c) => typeof c.input !== 'string' || c.input === '')).toEqual([])

      const hurtRow = await rowOf(hurt.task.id)
      expect(json(hurtRow.moderation)).toMatchObject({
        flagged: true,
        kinds: ['self_harm'],
        model: 'mod-test',
      })
      const [conv] = await t.store.db.query<Row>('select crisis_kinds from conversation where id = $1', [
        hurt.convId,
      ])
      expect(conv!.crisis_kinds).toBe('self_harm')
      const alerts = await t.store.db.query<Row>(
        "select input from aiprocessingtask where kind = 'safety_webhook'",
      )
      const alert = alerts.map((a) => json(a.input)).find((a) => a.conversationId === hurt.convId)
      expect(alert).toMatchObject({ source: 'moderation', userId, userName: '지은', kinds: ['self_harm'] })
      expect(flagged - flaggedBefore).toBe(1)

      expect(json((await rowOf(fine.task.id)).moderation)).toMatchObject({ flagged: false, kinds: [] })
      const [fineConv] = await t.store.db.query<Row>('select crisis_kinds from conversation where id = $1', [
        fine.convId,
      ])
      expect(fineConv!.crisis_kinds ?? null).toBeNull()
      expect((await rowOf(down.task.id)).moderation ?? null).toBeNull()
      expect((await rowOf(down.task.id)).ai_response).toBe('re: endpoint down')
      await runner.stop(1000)

      // Without the SDK (no API key) there is nobody to ask.
      scripts.set('no sdk', () => answer('fine'))
      const keyless = await answering({ moderation: true, sdk: false })
      const noSdk = await turn(inputOf('no sdk'))
      keyless.runner.wake()
      await rowWhen(noSdk.task.id, (r) => r.status === 'completed')
      expect((await rowOf(noSdk.task.id)).moderation ?? null).toBeNull()
      await keyless.runner.stop(1000)
    })
  })
}
