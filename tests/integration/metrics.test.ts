import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { parseProm, type Sample, sampleOf } from '../helpers/prom.ts'
import { waitFor } from '../helpers/wait.ts'

const ADMIN = 'admin-token-for-metrics-test'
const SCRAPER = 'scraper-token-for-metrics-test'

/** GET /metrics scraped and parsed: the figures follow the turns that ran. */
for (const dialect of await testDialects()) {
  describe(`/metrics (${dialect})`, () => {
    let model: FakeOpenAI
    let kakao: FakeKakao
    const started: TestKbot[] = []

    beforeAll(() => {
      model = startFakeOpenAI({
        content: '답변입니다',
        usage: { prompt_tokens: 1000, completion_tokens: 200 },
        cachedTokens: 400,
      })
      kakao = startFakeKakao()
    })
    afterAll(async () => {
      await Promise.all(started.map((k) => k.stop()))
      model.close()
      kakao.close()
    })

    async function bot(label: string, toml = '') {
      const k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `metrics-${label}-${dialect}`,
        env: {
          OPENAI_BASE_URL: model.url,
          OPENAI_MODEL: 'gpt-4o',
          CALLBACK_ALLOWED_HOSTS: kakao.origin,
          ADMIN_TOKEN: ADMIN,
          METRICS_TOKEN: SCRAPER,
        },
        // No `[memory] schedule` tick (every ten minutes) may add a job task to the queue gauges checked here.
        toml: `[memory]\nenabled = false\n${toml}`,
      })
      started.push(k)
      return k
    }

    const scrape = async (k: TestKbot, token: string | null = SCRAPER) => {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
      const res = await k.kbot.app.handle(new Request('http://localhost/metrics', { headers }))
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
    }
    const samples = async (k: TestKbot): Promise<Sample[]> => parseProm((await scrape(k)).text)

    test('needs the admin token or METRICS_TOKEN', async () => {
      const k = await bot('auth')
      expect((await scrape(k, null)).status).toBe(401)
      const wrong = await scrape(k, 'nope')
      expect(wrong.status).toBe(401)
      expect(JSON.parse(wrong.text).error.code).toBe('UNAUTHORIZED')
      const asScraper = await scrape(k, SCRAPER)
      expect(asScraper.status).toBe(200)
      expect(asScraper.type).toContain('text/plain')
      expect((await scrape(k, ADMIN)).status).toBe(200)
      // The process defaults are there too.
      const s = parseProm(asScraper.text)
      expect(sampleOf(s, 'process_cpu_seconds_total')).toBeGreaterThan(0)
      expect(sampleOf(s, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    })

    test('acks, tasks, tokens, cost, callbacks and the queue change as turns run', async () => {
      const k = await bot('turns')
      const before = await samples(k)
      expect(sampleOf(before, 'kbot_ack_duration_seconds_count', { route: 'skill' })).toBeUndefined()
      expect(sampleOf(before, 'kbot_callbacks_total', { outcome: 'sent' })).toBe(0)
      expect(sampleOf(before, 'kbot_queue_tasks', { status: 'completed' })).toBe(0)

      const url = kakao.callbackUrl()
      const ack = await k.post(
        '/skill',
        kakaoPayload({ utterance: '콜백으로 답해 주세요', callbackUrl: url }),
      )
      expect(ack.json.useCallback).toBe(true)
      const inline = await k.post('/skill', kakaoPayload({ utterance: '바로 답해 주세요' }))
      expect(inline.status).toBe(200)
      expect(inline.json.useCallback).toBeUndefined()
      await k.post('/welcome', kakaoPayload({ utterance: '' }))
      expect((await k.post('/skill', '{"userRequest": {')).status).toBe(400)
      await waitFor(() => kakao.arrivalsFor(url).length === 1, { what: 'the callback' })

      const s = await waitFor(
        async () => {
          const now = await samples(k)
          return sampleOf(now, 'kbot_callbacks_total', { outcome: 'sent' }) === 1 &&
            sampleOf(now, 'kbot_tasks_total', { kind: 'ai_answer', outcome: 'completed' }) === 2
            ? now
            : null
        },
        { what: 'two completed tasks and one sent callback in /metrics' },
      )
      const ackCount = (route: string, outcome: string) =>
        sampleOf(s, 'kbot_ack_duration_seconds_count', { route, outcome })
      expect(ackCount('skill', 'callback')).toBe(1)
      expect(ackCount('skill', 'inline')).toBe(1)
      expect(ackCount('skill', 'refused')).toBe(1)
      expect(ackCount('welcome', 'inline')).toBe(1)
      expect(
        sampleOf(s, 'kbot_ack_duration_seconds_bucket', { route: 'skill', outcome: 'callback', le: '+Inf' }),
      ).toBe(1)
      expect(
        sampleOf(s, 'kbot_ack_duration_seconds_sum', { route: 'skill', outcome: 'callback' }),
      ).toBeGreaterThan(0)

      const tokens = (kind: string) => sampleOf(s, 'kbot_model_tokens_total', { model: 'gpt-4o', kind })
      expect(tokens('prompt')).toBe(2000)
      expect(tokens('cached')).toBe(800)
      expect(tokens('completion')).toBe(400)
      expect(sampleOf(s, 'kbot_model_cost_usd_total', { model: 'gpt-4o' })).toBeCloseTo(2 * 0.004, 12)
      expect(sampleOf(s, 'kbot_model_request_duration_seconds_count', { model: 'gpt-4o' })).toBe(2)
      expect(sampleOf(s, 'kbot_queue_tasks', { status: 'completed' })).toBe(2)
      expect(sampleOf(s, 'kbot_queue_tasks', { status: 'pending' })).toBe(0)
      expect(sampleOf(s, 'kbot_queue_oldest_pending_age_seconds')).toBe(0)
      expect(sampleOf(s, 'kbot_turns_rate_limited_total')).toBe(0)
      expect(sampleOf(s, 'kbot_turns_crisis_flagged_total')).toBe(0)

      // The cost on the promptlog rows is the same figure, cached tokens recorded.
      const rows = await k.db.store.db.query<Record<string, unknown>>(
        'select cached_tokens, cost_usd from promptlog',
      )
      expect(rows.map((r) => [Number(r.cached_tokens), Number(r.cost_usd)])).toEqual([
        [400, 0.004],
        [400, 0.004],
      ])
    })

    test('a failing model counts failed tasks; the queue gauges show work that waits', async () => {
      const k = await bot('failing', '[worker]\nmax_attempts = 1')
      model.script({ status: 500 })
      await k.post('/skill', kakaoPayload({ utterance: '실패할 질문' }))
      const failed = await waitFor(async () => {
        const now = await samples(k)
        return sampleOf(now, 'kbot_tasks_total', { kind: 'ai_answer', outcome: 'failed' }) === 1 ? now : null
      })
      expect(sampleOf(failed, 'kbot_queue_tasks', { status: 'failed' })).toBe(1)

      const idle = await bot('idle', '[worker]\nconcurrency = 0')
      await idle.post(
        '/skill',
        kakaoPayload({ utterance: '기다리는 질문', callbackUrl: kakao.callbackUrl() }),
      )
      const s = await samples(idle)
      expect(sampleOf(s, 'kbot_queue_tasks', { status: 'pending' })).toBe(1)
      const age = sampleOf(s, 'kbot_queue_oldest_pending_age_seconds')!
      expect(age).toBeGreaterThan(0)
      expect(age).toBeLessThan(60)
    })
  })
}
