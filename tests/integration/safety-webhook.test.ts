import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { buildSafetyAlert, postSafetyWebhook, SafetyWebhookError } from '../../src/safety/webhook.ts'
import { parseHostRules } from '../../src/util/host-rules.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

/** An operator's receiver on loopback: answers each request with the next scripted status (then 200). */
function startReceiver() {
  const statuses: number[] = []
  const got: { body: any; key: string | null; status: number }[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const status = statuses.shift() ?? 200
      got.push({ body: await req.json(), key: req.headers.get('idempotency-key'), status })
      return new Response(status === 200 ? 'ok' : 'no', { status })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}/hook`,
    origin: `http://127.0.0.1:${server.port}`,
    statuses,
    got,
    close: () => server.stop(true),
  }
}

const sample = buildSafetyAlert({
  alertId: '0190a000-0000-7000-8000-000000000001',
  source: 'lexicon',
  kinds: ['suicide'],
  evidence: [{ kind: 'suicide', rule: 'want-to-die', text: '죽고싶' }],
  conversationId: 'c1',
  userId: 'u1',
  userName: '길동',
  lastTurns: [{ role: 'user', content: '죽고 싶어', createdAt: new Date('2026-12-01T09:00:00Z') }],
  at: new Date('2026-12-01T09:00:00Z'),
})

describe('postSafetyWebhook against a real receiver', () => {
  const r = startReceiver()
  afterAll(() => r.close())
  const rules = () => parseHostRules([r.origin])

  test('a refused host is never requested', async () => {
    const before = r.got.length
    const err = await postSafetyWebhook(r.url, sample, {
      timeoutMs: 1000,
      allowedHosts: parseHostRules(['alerts.example.org']),
    }).catch((e) => e)
    expect(err).toBeInstanceOf(SafetyWebhookError)
    expect(err.retryable).toBe(false)
    expect(r.got.length).toBe(before)
  })
  test('5xx and 429 are retryable, other 4xx final; the body and idempotency key arrive', async () => {
    r.statuses.push(503, 429, 404)
    const results = []
    for (let i = 0; i < 3; i++)
      results.push(
        await postSafetyWebhook(r.url, sample, { timeoutMs: 1000, allowedHosts: rules() }).catch((e) => e),
      )
    expect(results.map((e) => [e.status, e.retryable])).toEqual([
      [503, true],
      [429, true],
      [404, false],
    ])
    await postSafetyWebhook(r.url, sample, { timeoutMs: 1000, allowedHosts: rules() })
    expect(r.got.at(-1)).toEqual({ body: sample, key: sample.alert_id, status: 200 })
  })
  test('a receiver that is down is retryable', async () => {
    const err = await postSafetyWebhook('http://127.0.0.1:9/hook', sample, {
      timeoutMs: 1000,
      allowedHosts: parseHostRules(['http://127.0.0.1:9']),
    }).catch((e) => e)
    expect(err).toBeInstanceOf(SafetyWebhookError)
    expect(err.retryable).toBe(true)
  })
})

for (const dialect of await testDialects()) {
  describe(`the alert of a flagged turn reaches the webhook once (${dialect})`, () => {
    let model: FakeOpenAI
    let k: TestKbot
    const r = startReceiver()
    beforeAll(async () => {
      model = startFakeOpenAI()
      k = await startTestKbot({
        dialect,
        label: `safety-hook-${dialect}`,
        env: {
          OPENAI_BASE_URL: model.url,
          SAFETY_WEBHOOK_URL: r.url,
          SAFETY_WEBHOOK_ALLOWED_HOSTS: r.origin,
        },
      })
    })
    afterAll(async () => {
      await k.stop()
      model.close()
      r.close()
    })

    test('through the queue: the receiver fails once, the retry delivers; one alert id, no Kakao key in the body', async () => {
      const kakaoKey = `kakao-key-${dialect}-secret`
      await k.post('/skill', kakaoPayload({ utterance: '제 이름은 민수예요', userId: kakaoKey }))
      // The first POST the queue makes is refused with 502; the retry (its backoff) gets 200.
      r.statuses.push(502)
      const res = await k.post(
        '/skill',
        kakaoPayload({ utterance: '약을 모아 두고 있어요', userId: kakaoKey }),
      )
      const replyText = res.json.template.outputs[0].simpleText.text as string
      const [event] = await k.db.store.db.query<Record<string, unknown>>(
        `select e.detail, e.user_id, u.name from eventlog e join appuser u on u.id = e.user_id
          where e.type = 'crisis_flagged' and u.kakao_user_id = $1`,
        [kakaoKey],
      )
      const d = typeof event!.detail === 'string' ? JSON.parse(event!.detail) : (event!.detail as any)
      const task = await waitFor(async () => {
        const [t] = await k.db.store.db.query<Record<string, any>>(
          "select * from aiprocessingtask where kind = 'safety_webhook' and dedupe_key = $1",
          [`safety:${d.alert_id}`],
        )
        return t?.status === 'completed' ? t : null
      })
      expect(Number(task.attempts)).toBe(2)
      expect(r.got.map((g) => g.status)).toEqual([502, 200])
      expect(new Set(r.got.map((g) => g.key))).toEqual(new Set([d.alert_id]))
      const body = r.got[1]!.body
      expect(body).toMatchObject({
        type: 'crisis_flagged',
        alert_id: d.alert_id,
        source: 'lexicon',
        kinds: ['suicide'],
        evidence: [{ kind: 'suicide', rule: 'pills', text: '약을모아' }],
        conversation_id: d.conversation_id,
        user_id: String(event!.user_id),
        user_name: '민수',
      })
      expect(body.last_turns.slice(-2).map((t: any) => t.content)).toEqual([
        '약을 모아 두고 있어요',
        replyText,
      ])
      expect(JSON.stringify(body)).not.toContain(kakaoKey)
      // Sent once: nothing more arrives after the task completed (its lease and backoff windows have passed).
      await k.kbot.pool.stop(1000)
      expect(r.got).toHaveLength(2)
    })
  })
}
