import { describe, expect, test } from 'bun:test'
import type { Dialect } from '../../src/store/db.ts'
import { claimTasks } from '../../src/store/task-claims.ts'
import { useCleanup } from '../helpers/cleanup.ts'
import { testDialects } from '../helpers/db.ts'
import { useFakes } from '../helpers/fakes.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

/**
 * The scenarios of the Kakao-turn issue, each asserting what reached the fake Kakao receiver and what is in the
 * database. The model is a real HTTP server driven through the real openai SDK.
 */
for (const dialect of await testDialects()) {
  describe(`Kakao turn (${dialect})`, () => {
    useCleanup()
    const fakes = useFakes()

    const bot = (label: string, toml = '', env: Record<string, string> = {}) =>
      startTestKbot({
        dialect: dialect as Dialect,
        label: `turn-${label}-${dialect}`,
        env: { ...fakes.env, ...env },
        toml,
      })

    const q = (k: TestKbot, sql: string, params: unknown[] = []) => k.db.store.db.query<Row>(sql, params)
    const taskOf = async (k: TestKbot, userKey: string): Promise<Row> =>
      (
        await q(
          k,
          `select t.* from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1
            order by t.created_at desc limit 1`,
          [userKey],
        )
      )[0] as Row

    test('normal answer: ack at once, one callback with the answer, rows recorded', async () => {
      fakes.model.setDefault({
        content: '안녕하세요! 무엇을 도와드릴까요?',
        usage: { prompt_tokens: 120, completion_tokens: 15 },
      })
      const k = await bot('normal')
      const url = fakes.kakao.callbackUrl()
      const user = `u-normal-${dialect}`
      const before = fakes.model.requests.length
      const res = await k.post(
        '/skill',
        kakaoPayload({ utterance: '안녕하세요', userId: user, callbackUrl: url }),
        {
          'x-request-id': `chp-${crypto.randomUUID()}`,
        },
      )
      expect(res.status).toBe(200)
      expect(res.json).toEqual({
        version: '2.0',
        useCallback: true,
        data: { text: 'AI가 답변을 생성하고 있어요!' },
      })
      const [arrival] = await waitFor(() =>
        fakes.kakao.arrivalsFor(url).length > 0 ? fakes.kakao.arrivalsFor(url) : null,
      )
      expect(arrival!.status).toBe('SUCCESS')
      expect(arrival!.body).toEqual({
        version: '2.0',
        template: { outputs: [{ simpleText: { text: '안녕하세요! 무엇을 도와드릴까요?' } }] },
      })
      const sent = fakes.model.requests.slice(before)
      expect(sent.length).toBe(1)
      expect(sent[0]!.body.messages[0]!.role).toBe('system')
      expect(sent[0]!.body.messages.at(-1)).toEqual({ role: 'user', content: '안녕하세요' })
      expect(sent[0]!.body).toMatchObject({ model: 'gpt-4o', temperature: 0.2, max_tokens: 1000 })

      const task = await waitFor(async () => {
        const t = await taskOf(k, user)
        return t?.callback_status === 'sent' && t.delivered_at ? t : null
      })
      expect(task).toMatchObject({
        status: 'completed',
        attempts: 1,
        tokens_used: 135,
        ai_response: '안녕하세요! 무엇을 도와드릴까요?',
      })
      expect(
        new Date(task.callback_sent_at).getTime() - new Date(task.created_at).getTime(),
      ).toBeGreaterThanOrEqual(30)
      const [log] = await q(k, 'select * from promptlog where task_id = $1', [task.id])
      expect(log).toMatchObject({
        prompt_tokens: 120,
        completion_tokens: 15,
        total_tokens: 135,
        model: 'gpt-4o',
        prompt_name: 'default',
        prompt_version: 1,
      })
      expect(Number(log!.latency_ms)).toBeGreaterThanOrEqual(0)
      const msgs = await q(
        k,
        'select role, content, tokens from message where conv_id = $1 order by created_at',
        [task.conv_id],
      )
      expect(msgs.map((m) => m.role)).toEqual(['user', 'assistant'])
      expect(msgs[1]).toMatchObject({ content: '안녕하세요! 무엇을 도와드릴까요?', tokens: 15 })
      fakes.model.setDefault({})
      // A callback that was accepted is not recorded as rejected.
      const rejected = await q(
        k,
        `select id from eventlog where type = 'callback_rejected' and user_id = $1`,
        [task.user_id],
      )
      expect(rejected.length).toBe(0)
      // Stopping awaits every delivery in flight: exactly one callback, and one model call in all.
      await k.stop()
      expect(fakes.kakao.arrivalsFor(url).length).toBe(1)
      expect(fakes.model.requests.length - before).toBe(1)
    })

    test('model slower than the deadline: apology with "답변 확인" before expiry, answer served later', async () => {
      fakes.model.script(
        { delayMs: 2500, content: '늦은 답변입니다.' },
        { delayMs: 600, content: '늦은 답변입니다.' },
      )
      const k = await bot(
        'slow',
        '[kakao]\ncallback_ttl_ms = 3000\n[worker]\ndeadline_margin_ms = 1000\nmin_attempt_ms = 300',
      )
      const url = fakes.kakao.callbackUrl(3000)
      const user = `u-slow-${dialect}`
      const res = await k.post(
        '/skill',
        kakaoPayload({ utterance: '천천히 답해 주세요', userId: user, callbackUrl: url }),
      )
      expect(res.json.useCallback).toBe(true)
      const [arrival] = await waitFor(() =>
        fakes.kakao.arrivalsFor(url).length > 0 ? fakes.kakao.arrivalsFor(url) : null,
      )
      // SUCCESS means before expiry: the fake receiver refuses a callbackUrl after its 3 s lifetime.
      expect(arrival!.status).toBe('SUCCESS')
      const body = arrival!.body as any
      expect(body.template.outputs[0].simpleText.text).toContain('시간이 조금 더 걸리고')
      const held = await taskOf(k, user)
      // The button names its task: Kakao hands `extra` back as action.clientExtra when it is pressed.
      expect(body.template.quickReplies).toEqual([
        { label: '답변 확인', action: 'message', messageText: '답변 확인', extra: { kbot_task: held.id } },
      ])
      const done = await waitFor(async () => {
        const t = await taskOf(k, user)
        return t?.status === 'completed' ? t : null
      })
      expect(done).toMatchObject({
        callback_status: 'sent',
        delivered_at: null,
        ai_response: '늦은 답변입니다.',
      })
      const pressed = kakaoPayload({ utterance: '답변 확인', userId: user }) as any
      pressed.action.clientExtra = body.template.quickReplies[0].extra
      const check = await k.post('/skill', pressed)
      expect(check.json.template.outputs[0].simpleText.text).toBe('늦은 답변입니다.')
      const after = await taskOf(k, user)
      expect(after.delivered_at).not.toBeNull()
      expect(fakes.kakao.arrivalsFor(url).length).toBe(1)
    })

    test('429 then success: retried after the server-given wait, one callback with the answer', async () => {
      const k = await bot('429')
      fakes.model.script({ status: 429, headers: { 'retry-after-ms': '100' } }, { content: '재시도 성공' })
      const before = fakes.model.requests.length
      const url = fakes.kakao.callbackUrl()
      const user = `u-429-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user, callbackUrl: url }))
      await waitFor(() => fakes.kakao.arrivalsFor(url).length > 0)
      expect((fakes.kakao.arrivalsFor(url)[0]!.body as any).template.outputs[0].simpleText.text).toBe(
        '재시도 성공',
      )
      const task = await waitFor(async () => {
        const t = await taskOf(k, user)
        return t?.delivered_at ? t : null
      })
      expect(task).toMatchObject({ status: 'completed', attempts: 2, callback_status: 'sent' })
      expect(fakes.model.requests.length - before).toBe(2)
      expect(fakes.kakao.arrivalsFor(url).length).toBe(1)
    })

    test('500 on every attempt: three attempts, then one callback with the apology', async () => {
      const k = await bot('500')
      fakes.model.script({ status: 500 }, { status: 500 }, { status: 500 })
      const before = fakes.model.requests.length
      const url = fakes.kakao.callbackUrl()
      const user = `u-500-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user, callbackUrl: url }))
      const task = await waitFor(async () => {
        const t = await taskOf(k, user)
        return t?.status === 'failed' && t.callback_status === 'sent' ? t : null
      })
      expect(task.attempts).toBe(3)
      expect(task.error).toContain('500')
      expect(fakes.model.requests.length - before).toBe(3)
      await waitFor(() => fakes.kakao.arrivalsFor(url).length > 0)
      const arrivals = fakes.kakao.arrivalsFor(url)
      expect(arrivals.length).toBe(1)
      // The failure apology, not the "still working" one: no "답변 확인" button, since no answer will come.
      expect(arrivals[0]!.body).toEqual({
        version: '2.0',
        template: {
          outputs: [
            {
              simpleText: { text: '죄송해요, 지금은 답변을 드리기 어려워요. 잠시 후에 다시 말씀해 주세요.' },
            },
          ],
        },
      })
      const events = await q(k, `select detail from eventlog where type = 'task_failed' and user_id = $1`, [
        task.user_id,
      ])
      expect(events.length).toBe(1)
    })

    test('a hanging model: attempts time out, the callback carries the apology before it expires', async () => {
      const k = await bot(
        'hang',
        '[kakao]\ncallback_ttl_ms = 6000\n[worker]\ndeadline_margin_ms = 1000\nmin_attempt_ms = 300',
        {
          OPENAI_TIMEOUT_MS: '700',
        },
      )
      fakes.model.script({ hang: true }, { hang: true }, { hang: true })
      const url = fakes.kakao.callbackUrl(6000)
      const user = `u-hang-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user, callbackUrl: url }))
      const task = await waitFor(
        async () => {
          const t = await taskOf(k, user)
          return t?.status === 'failed' && t.callback_status === 'sent' ? t : null
        },
        { timeoutMs: 15_000 },
      )
      expect(task.attempts).toBe(3)
      await waitFor(() => fakes.kakao.arrivalsFor(url).length > 0)
      const arrivals = fakes.kakao.arrivalsFor(url)
      expect(arrivals.length).toBe(1)
      // SUCCESS means before expiry: the fake receiver refuses a callbackUrl after its 6 s lifetime.
      expect(arrivals[0]!.status).toBe('SUCCESS')
      await waitFor(() => fakes.model.inFlight() === 0, { what: 'hanging requests to be abandoned' })
    })

    test('the receiver answers FAIL: recorded as rejected, the answer is kept for "답변 확인"', async () => {
      const k = await bot('fail')
      fakes.kakao.failAll(true, 400)
      try {
        fakes.model.script({ content: '보관된 답변' })
        const url = fakes.kakao.callbackUrl()
        const user = `u-fail-${dialect}`
        await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user, callbackUrl: url }))
        const task = await waitFor(async () => {
          const t = await taskOf(k, user)
          return t?.callback_status === 'rejected' ? t : null
        })
        expect(task).toMatchObject({ status: 'completed', delivered_at: null })
        expect(task.callback_error).toContain('Invalid callback token')
        expect(fakes.kakao.arrivalsFor(url).length).toBe(1)
        fakes.kakao.failAll(false)
        const check = await k.post('/skill', kakaoPayload({ utterance: '답변 확인', userId: user }))
        expect(check.json.template.outputs[0].simpleText.text).toBe('보관된 답변')
        expect((await taskOf(k, user)).delivered_at).not.toBeNull()
        const events = await q(
          k,
          `select id from eventlog where type = 'callback_rejected' and user_id = $1`,
          [task.user_id],
        )
        expect(events.length).toBe(1)
      } finally {
        fakes.kakao.failAll(false)
      }
    })

    test('a callbackUrl on a host that is not allowed is never requested; the turn still gets an answer', async () => {
      const k = await bot('ssrf')
      fakes.model.script({ content: '안전한 답변' })
      const allowedUrl = fakes.kakao.callbackUrl()
      const foreign = allowedUrl.replace('127.0.0.1', 'localhost')
      const user = `u-ssrf-${dialect}`
      const before = fakes.kakao.arrivals.length
      const res = await k.post(
        '/skill',
        kakaoPayload({ utterance: '질문', userId: user, callbackUrl: foreign }),
      )
      expect(res.status).toBe(200)
      expect(res.json.template.outputs[0].simpleText.text).toBe('안전한 답변')
      const task = await taskOf(k, user)
      expect(task).toMatchObject({ callback_url: null, callback_status: 'inline' })
      const events = await q(
        k,
        `select detail from eventlog where type = 'callback_refused' and user_id = $1`,
        [task.user_id],
      )
      expect(events.length).toBe(1)
      // One more guard pass, then stop: stopping awaits every delivery in flight, so nothing can land later.
      await k.kbot.guard.sweep()
      await k.stop()
      expect(fakes.kakao.arrivals.length).toBe(before)
    })

    test('an answer of 3,500 characters with markdown: 3 clean bubbles ≤ 1000, the rest via "자세히"', async () => {
      const k = await bot('long')
      const para = (i: number) =>
        `## 항목 ${i}\n**중요한** 내용입니다. 자세한 안내는 [여기](https://example.com/guide_${i}?a=1&b=2)에서 확인하세요. ` +
        `${'이 문장은 긴 답변을 만들기 위한 문장입니다. '.repeat(6)}\n`
      let long = ''
      for (let i = 1; long.length < 3500; i++) long += para(i)
      fakes.model.script({ content: long })
      const url = fakes.kakao.callbackUrl()
      const user = `u-long-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '길게 알려 주세요', userId: user, callbackUrl: url }))
      await waitFor(() => fakes.kakao.arrivalsFor(url).length > 0)
      const body = fakes.kakao.arrivalsFor(url)[0]!.body as any
      const texts: string[] = body.template.outputs.map((o: any) => o.simpleText.text)
      expect(texts.length).toBe(3)
      for (const t of texts) {
        expect(t.length).toBeLessThanOrEqual(1000)
        expect(t).not.toMatch(/\*\*|##|\]\(/)
      }
      expect(texts.join('\n')).toContain('https://example.com/guide_1?a=1&b=2')
      expect(body.template.quickReplies).toEqual([
        { label: '자세히', action: 'message', messageText: '자세히' },
      ])
      const task = await waitFor(async () => {
        const t = await taskOf(k, user)
        return t?.delivered_at ? t : null
      })
      expect(task.remaining_text?.length).toBeGreaterThan(0)
      const shown = texts.join('').length
      let rest = ''
      for (let i = 0; i < 5; i++) {
        const more = await k.post('/skill', kakaoPayload({ utterance: '자세히', userId: user }))
        const outs: string[] = more.json.template.outputs.map((o: any) => o.simpleText.text)
        if (outs[0] === '더 보여 드릴 내용이 없어요.') break
        rest += outs.join('')
      }
      expect(shown + rest.length).toBeGreaterThan(3000)
      expect((await taskOf(k, user)).remaining_text).toBeNull()
    })

    test('a duplicate X-Request-Id creates no second task and no second callback', async () => {
      const k = await bot('dup')
      const url = fakes.kakao.callbackUrl()
      const user = `u-dup-${dialect}`
      const headers = { 'x-request-id': `chp-${crypto.randomUUID().replace(/-/g, '')}` }
      const payload = kakaoPayload({ utterance: '한 번만', userId: user, callbackUrl: url })
      const [a, b] = await Promise.all([
        k.post('/skill', payload, headers),
        k.post('/skill', payload, headers),
      ])
      const c = await k.post('/skill', payload, headers)
      for (const r of [a, b, c]) expect(r.json.useCallback).toBe(true)
      await waitFor(() => fakes.kakao.arrivalsFor(url).length > 0)
      const tasks = await q(k, 'select id from aiprocessingtask where request_id = $1', [
        headers['x-request-id'],
      ])
      expect(tasks.length).toBe(1)
      const userMsgs = await q(
        k,
        `select m.id from message m join conversation c on c.id = m.conv_id join appuser u on u.id = c.user_id
          where u.kakao_user_id = $1 and m.role = 'user'`,
        [user],
      )
      expect(userMsgs.length).toBe(1)
      // One more guard pass, then stop: stopping awaits every delivery in flight, so nothing can land later.
      await k.kbot.guard.sweep()
      await k.stop()
      expect(fakes.kakao.arrivalsFor(url).length).toBe(1)
    })

    test('a duplicate X-Request-Id without a callbackUrl: one task, one model call, the same answer twice', async () => {
      const k = await bot('dup-inline')
      fakes.model.script({ content: '한 번만 계산한 답변' })
      const user = `u-dup-inline-${dialect}`
      const headers = { 'x-request-id': `chp-${crypto.randomUUID().replace(/-/g, '')}` }
      const payload = kakaoPayload({ utterance: '한 번만', userId: user })
      const before = fakes.model.requests.length
      const first = await k.post('/skill', payload, headers)
      const second = await k.post('/skill', payload, headers)
      for (const r of [first, second])
        expect(r.json.template.outputs[0].simpleText.text).toBe('한 번만 계산한 답변')
      expect(fakes.model.requests.length - before).toBe(1)
      const tasks = await q(
        k,
        'select t.id from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1',
        [user],
      )
      expect(tasks.length).toBe(1)
    })

    test('a live worker whose model call outlasts its lease renews it: one attempt, one call, one callback', async () => {
      const k = await bot('lease', '[worker]\nlease_ms = 1000\npoll_ms = 100')
      fakes.model.script({ delayMs: 2500, content: '리스보다 긴 답변' })
      const before = fakes.model.requests.length
      const url = fakes.kakao.callbackUrl()
      const user = `u-lease-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '오래 걸리는 질문', userId: user, callbackUrl: url }))
      const task = await waitFor(
        async () => {
          const t = await taskOf(k, user)
          return t && t.status !== 'pending' && t.status !== 'processing' && t.callback_status !== 'pending'
            ? t
            : null
        },
        { timeoutMs: 15_000, what: 'the task to finish' },
      )
      // Awaits every delivery in flight, so nothing can arrive after the counts below.
      await k.stop()
      expect(task).toMatchObject({ status: 'completed', attempts: 1, callback_status: 'sent' })
      expect(fakes.model.requests.length - before).toBe(1)
      const arrivals = fakes.kakao.arrivalsFor(url)
      expect(arrivals.length).toBe(1)
      expect((arrivals[0]!.body as any).template.outputs[0].simpleText.text).toBe('리스보다 긴 답변')
    })

    test('a live callback whose worker is gone is rescued by the guard before its deadline, once', async () => {
      // No workers, and the guard's timer a minute away: the task is claimed below by a worker that then "dies"
      // (its lease outlives the callback), and only then does the test drive the guard's passes — so the
      // admission rule (a task still queued near its deadline) can never be what sends the apology.
      const k = await bot(
        'rescue',
        '[kakao]\ncallback_ttl_ms = 6000\n[worker]\ndeadline_margin_ms = 3000\nmin_attempt_ms = 300\nguard_interval_ms = 60000',
        { WORKER_CONCURRENCY: '0' },
      )
      const url = fakes.kakao.callbackUrl(6000)
      const user = `u-rescue-${dialect}`
      const res = await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user, callbackUrl: url }))
      expect(res.json.useCallback).toBe(true)
      const queued = await taskOf(k, user)
      const claimed = await claimTasks(k.db.store.db, { owner: 'dead-worker', limit: 10, leaseMs: 60_000 })
      expect(claimed.map((c) => c.id)).toEqual([queued.id])
      // The passes send nothing before the deadline; the first one after it sends the apology.
      await waitFor(
        async () => {
          await k.kbot.guard.sweep()
          return fakes.kakao.arrivalsFor(url).length > 0
        },
        { intervalMs: 100, what: 'the guard to rescue the callback' },
      )
      const row = await waitFor(async () => {
        const [r] = await q(k, 'select * from aiprocessingtask where id = $1', [queued.id])
        return r?.callback_status === 'sent' && fakes.kakao.arrivalsFor(url).length > 0 ? r : null
      })
      expect(row).toMatchObject({ status: 'processing', lease_owner: 'dead-worker', delivered_at: null })
      // Stopping awaits every delivery in flight, so no second POST can arrive after the count.
      await k.stop()
      const arrivals = fakes.kakao.arrivalsFor(url)
      expect(arrivals.length).toBe(1)
      // SUCCESS: the fake receiver refuses anything after the callback's 6 s lifetime.
      expect(arrivals[0]!.status).toBe('SUCCESS')
      const body = arrivals[0]!.body as any
      expect(body.template.outputs[0].simpleText.text).toContain('시간이 조금 더 걸리고')
      expect(body.template.quickReplies[0].extra).toEqual({ kbot_task: queued.id })
    })

    test('a task still queued with too little time left gets the "busy" apology from the guard, once', async () => {
      // No workers: the task never starts, and the guard must not leave the user in silence.
      const k = await bot(
        'admission',
        '[kakao]\ncallback_ttl_ms = 3000\n[worker]\ndeadline_margin_ms = 1000\nmin_attempt_ms = 300',
        { WORKER_CONCURRENCY: '0' },
      )
      const url = fakes.kakao.callbackUrl(3000)
      const user = `u-admission-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user, callbackUrl: url }))
      const row = await waitFor(async () => {
        const t = await taskOf(k, user)
        return t?.callback_status === 'sent' && fakes.kakao.arrivalsFor(url).length > 0 ? t : null
      })
      expect(row).toMatchObject({ status: 'pending', started_at: null, attempts: 0 })
      await k.stop()
      const arrivals = fakes.kakao.arrivalsFor(url)
      expect(arrivals.length).toBe(1)
      expect(arrivals[0]!.status).toBe('SUCCESS')
      const body = arrivals[0]!.body as any
      expect(body.template.outputs[0].simpleText.text).toContain('지금 문의가 많아')
      expect(body.template.quickReplies[0]).toMatchObject({
        label: '답변 확인',
        extra: { kbot_task: row.id },
      })
    })

    test('a callback that expired while no guard ran is marked expired and logged, never POSTed', async () => {
      // The guard's timer is a minute away and there are no workers: the test drives the passes itself.
      const k = await bot(
        'expired',
        '[kakao]\ncallback_ttl_ms = 2000\n[worker]\ndeadline_margin_ms = 1000\nmin_attempt_ms = 0\nguard_interval_ms = 60000',
        { WORKER_CONCURRENCY: '0' },
      )
      const url = fakes.kakao.callbackUrl(2000)
      const user = `u-expired-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user, callbackUrl: url }))
      const queued = await taskOf(k, user)
      // Past the URL's lifetime (the guard's first pass ran at start, before this task existed).
      await waitFor(() => Date.now() > new Date(queued.expires_at).getTime(), {
        what: 'the callback to expire',
      })
      await k.kbot.guard.sweep()
      const row = await taskOf(k, user)
      expect(row).toMatchObject({ callback_status: 'expired', delivered_at: null, status: 'pending' })
      const events = await q(
        k,
        `select detail from eventlog where type = 'callback_expired' and user_id = $1`,
        [row.user_id],
      )
      expect(events.length).toBe(1)
      await k.kbot.guard.sweep()
      await k.stop()
      expect(fakes.kakao.arrivalsFor(url).length).toBe(0)
    })

    test('a replay without X-Request-Id but with the same callbackUrl creates no second task', async () => {
      const k = await bot('replay')
      const url = fakes.kakao.callbackUrl()
      const user = `u-replay-${dialect}`
      const payload = kakaoPayload({ utterance: '한 번만', userId: user, callbackUrl: url })
      const [a, b] = await Promise.all([k.post('/skill', payload), k.post('/skill', payload)])
      expect([a.json.useCallback, b.json.useCallback]).toEqual([true, true])
      await waitFor(() => fakes.kakao.arrivalsFor(url).length > 0)
      const tasks = await q(k, 'select id from aiprocessingtask where callback_url = $1', [url])
      expect(tasks.length).toBe(1)
      // One more guard pass, then stop: stopping awaits every delivery in flight, so nothing can land later.
      await k.kbot.guard.sweep()
      await k.stop()
      expect(fakes.kakao.arrivalsFor(url).length).toBe(1)
    })

    test("another user's X-Request-Id never reveals that user's answer", async () => {
      const k = await bot('foreign-id')
      const headers = { 'x-request-id': `chp-${crypto.randomUUID().replace(/-/g, '')}` }
      fakes.model.script({ content: '첫 번째 사용자만 볼 답변' }, { content: '두 번째 사용자의 답변' })
      const first = await k.post(
        '/skill',
        kakaoPayload({ utterance: '비밀 질문', userId: `owner-${dialect}` }),
        headers,
      )
      expect(first.json.template.outputs[0].simpleText.text).toBe('첫 번째 사용자만 볼 답변')
      const second = await k.post(
        '/skill',
        kakaoPayload({ utterance: '내 질문', userId: `other-${dialect}` }),
        headers,
      )
      expect(second.json.template.outputs[0].simpleText.text).toBe('두 번째 사용자의 답변')
      const rows = await q(
        k,
        `select u.kakao_user_id as who, t.request_id from aiprocessingtask t join appuser u on u.id = t.user_id
          where u.kakao_user_id in ($1, $2) order by t.created_at, t.id`,
        [`owner-${dialect}`, `other-${dialect}`],
      )
      expect(rows.map((r) => [r.who, r.request_id])).toEqual([
        [`owner-${dialect}`, headers['x-request-id']],
        [`other-${dialect}`, null],
      ])
    })

    test('a message after the session timeout opens a new conversation without the old history', async () => {
      const k = await bot('session', '', { SESSION_TIMEOUT_MINUTES: '1' })
      const user = `u-session-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '첫 번째 대화', userId: user }))
      const first = await taskOf(k, user)
      await waitFor(async () => (await taskOf(k, user))?.status === 'completed')
      // Two minutes of silence, without waiting two minutes.
      const past = new Date(Date.now() - 2 * 60_000)
      await q(k, 'update conversation set last_activity_at = $1 where id = $2', [past, first.conv_id])
      const before = fakes.model.requests.length
      await k.post('/skill', kakaoPayload({ utterance: '두 번째 대화', userId: user }))
      const second = await taskOf(k, user)
      expect(second.conv_id).not.toBe(first.conv_id)
      const old = await q(k, 'select ended_at from conversation where id = $1', [first.conv_id])
      expect(old[0]!.ended_at).not.toBeNull()
      const sent = fakes.model.requests.slice(before)
      expect(sent[0]!.body.messages.map((m) => m.content)).not.toContain('첫 번째 대화')
      const started = await q(
        k,
        `select id from eventlog where type = 'conversation_started' and user_id = $1`,
        [second.user_id],
      )
      expect(started.length).toBe(2)
    })

    test('within the session, earlier turns reach the model as history', async () => {
      const k = await bot('history')
      const user = `u-history-${dialect}`
      await k.post('/skill', kakaoPayload({ utterance: '제가 좋아하는 색은 파란색이에요', userId: user }))
      const before = fakes.model.requests.length
      await k.post('/skill', kakaoPayload({ utterance: '제가 좋아하는 색이 뭐였죠?', userId: user }))
      const messages = fakes.model.requests[before]!.body.messages
      expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user'])
      expect(messages[1]!.content).toBe('제가 좋아하는 색은 파란색이에요')
    })

    test('no callbackUrl: answered inline within the budget', async () => {
      const k = await bot('inline')
      fakes.model.script({ content: '바로 드리는 답변' })
      const user = `u-inline-${dialect}`
      const res = await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user }))
      expect(res.json).toEqual({
        version: '2.0',
        template: { outputs: [{ simpleText: { text: '바로 드리는 답변' } }] },
      })
      const task = await taskOf(k, user)
      expect(task).toMatchObject({ status: 'completed', callback_status: 'inline' })
      expect(task.delivered_at).not.toBeNull()
    })

    test('no callbackUrl and a slow model: "preparing" with 답변 확인, then the answer on request', async () => {
      const k = await bot('inline-slow', '[kakao]\ninline_wait_ms = 300')
      fakes.model.script({ delayMs: 800, content: '준비된 답변' })
      const user = `u-inline-slow-${dialect}`
      const res = await k.post('/skill', kakaoPayload({ utterance: '질문', userId: user }))
      expect(res.json.template.outputs[0].simpleText.text).toContain('답변을 준비하고 있어요')
      expect(res.json.template.quickReplies[0].label).toBe('답변 확인')
      const early = await k.post('/skill', kakaoPayload({ utterance: '답변 확인', userId: user }))
      expect(early.json.template.outputs[0].simpleText.text).toContain('아직 답변을 준비하고 있어요')
      await waitFor(async () => (await taskOf(k, user))?.status === 'completed')
      const check = await k.post('/skill', kakaoPayload({ utterance: '답변 확인', userId: user }))
      expect(check.json.template.outputs[0].simpleText.text).toBe('준비된 답변')
      const again = await k.post('/skill', kakaoPayload({ utterance: '답변 확인', userId: user }))
      expect(again.json.template.outputs[0].simpleText.text).toBe(
        '지금 확인할 답변이 없어요. 궁금한 점을 편하게 말씀해 주세요.',
      )
    })
  })
}
