import { describe, expect, test } from 'bun:test'
import { useCleanup } from '../helpers/cleanup.ts'
import { createTestDb, pgAvailable } from '../helpers/db.ts'
import { useFakes } from '../helpers/fakes.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { createPgCluster, requirePgCluster } from '../helpers/pg-cluster.ts'
import { pool, postJson, type ServeProcess, startServe } from '../helpers/proc.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

const hasPg = await pgAvailable()

/** Counts a scenario reports (they go into the issue's closing note). */
function report(name: string, counts: Record<string, number | string>) {
  console.log(
    `[queue] ${name}: ${Object.entries(counts)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  )
}

const TOML = `
[kakao]
callback_settle_ms = 50
[worker]
lease_ms = 2000
guard_interval_ms = 100
min_attempt_ms = 1000
[plugins.rate-limit]
per_minute = 10000
burst = 10000
`

/**
 * The queue under several real `kbot serve` processes on one PostgreSQL: no task lost, none run twice, exactly
 * one callback per request, also when a process is killed, stalls past its lease, or the database restarts.
 */
describe.skipIf(!hasPg)('queue across processes (postgres)', () => {
  useCleanup()
  const fakes = useFakes()

  const serveOn = (dbUrl: string, label: string, env: Record<string, string> = {}, toml = TOML) =>
    startServe({
      label,
      toml,
      env: { DATABASE_URL: dbUrl, ...fakes.env, WORKER_CONCURRENCY: '3', WORKER_POLL_MS: '500', ...env },
    })

  async function fleet(label: string, n: number, env: Record<string, string> = {}, toml = TOML) {
    const db = await createTestDb('postgres', label)
    const started = await Promise.all(
      Array.from({ length: n }, (_, i) => serveOn(db.url, `${label}${i}`, env, toml)),
    )
    return { db, procs: started, q: (sql: string, p: unknown[] = []) => db.store.db.query<Row>(sql, p) }
  }

  const ask = (proc: ServeProcess, i: number, callbackUrl: string, label: string) =>
    postJson(
      `${proc.url}/skill`,
      kakaoPayload({ utterance: `${label} 질문 ${i}`, userId: `${label}-user-${i % 50}`, callbackUrl }),
      { 'x-request-id': `chp-${crypto.randomUUID().replace(/-/g, '')}` },
    )

  test('3 processes, 1,000 requests: each task completed once, one callback each, none lost', async () => {
    fakes.model.setDefault({ delayMs: 20 })
    const { procs: three, q } = await fleet('q1000', 3)
    const before = fakes.model.requests.length
    const urls = Array.from({ length: 1000 }, () => fakes.kakao.callbackUrl())
    const t0 = Date.now()
    const replies = await pool(urls, 60, (url, i) => ask(three[i % 3]!, i, url, 'q1000'))
    expect(replies.filter((r) => r.status === 200 && r.json?.useCallback === true).length).toBe(1000)
    await waitFor(() => urls.every((u) => fakes.kakao.arrivalsFor(u).length > 0), {
      timeoutMs: 60_000,
      what: '1,000 callbacks',
    })
    const elapsed = Date.now() - t0
    // Not the periodic jobs' own tasks: a run that spans a `[memory] schedule` tick (every ten minutes) has one.
    const [counts] = await q(
      `select count(*) as total,
              count(*) filter (where status = 'completed') as completed,
              count(*) filter (where callback_status = 'sent' and delivered_at is not null) as delivered,
              max(attempts) as max_attempts
         from aiprocessingtask where kind <> 'job'`,
    )
    const perUrl = urls.map((u) => fakes.kakao.arrivalsFor(u))
    const duplicates = perUrl.filter((a) => a.length > 1).length
    const failures = perUrl.flat().filter((a) => a.status !== 'SUCCESS').length
    const modelCalls = fakes.model.requests.length - before
    report('1,000 requests over 3 processes', {
      sent: 1000,
      tasks: counts!.total,
      completed: counts!.completed,
      delivered: counts!.delivered,
      max_attempts: counts!.max_attempts,
      callbacks: perUrl.filter((a) => a.length > 0).length,
      duplicates,
      lost: 1000 - counts!.completed,
      model_calls: modelCalls,
      seconds: (elapsed / 1000).toFixed(1),
    })
    // One comparison, so that a failure shows every count at once.
    const got: Row = { ...counts, duplicates, failures, modelCalls }
    expect(got).toEqual({
      total: 1000,
      completed: 1000,
      delivered: 1000,
      max_attempts: 1,
      duplicates: 0,
      failures: 0,
      modelCalls: 1000,
    })
  }, 120_000)

  test('kill -9 of a process mid-model-call: another instance completes its tasks after the lease', async () => {
    fakes.model.setDefault({ delayMs: 4000 })
    const {
      db,
      procs: [a],
      q,
    } = await fleet('qkill', 1)
    const urls = Array.from({ length: 3 }, () => fakes.kakao.callbackUrl())
    await Promise.all(urls.map((url, i) => ask(a!, i, url, 'qkill')))
    const owned = `%:${a!.pid}:%`
    await waitFor(async () => {
      const rows = await q(
        `select id from aiprocessingtask where status = 'processing' and lease_owner like $1`,
        [owned],
      )
      return rows.length === 3
    })
    await waitFor(() => fakes.model.inFlight() >= 3, { what: 'the model calls to be under way' })
    // The second instance starts only now: running from the start, its poll could claim one of a's tasks in
    // the moment between a's commit and a's own claim (a flake seen once in a full run).
    const b = await serveOn(db.url, 'qkill1')
    const killedAt = Date.now()
    a!.kill('SIGKILL')
    await a!.exited
    const done = await waitFor(
      async () => {
        const rows = await q(`select * from aiprocessingtask where status = 'completed'`)
        return rows.length === 3 && rows.every((r) => r.delivered_at) ? rows : null
      },
      { timeoutMs: 20_000, what: 'the killed process’s tasks to be completed elsewhere' },
    )
    const recoveredMs = Math.max(...done.map((r) => new Date(r.completed_at).getTime())) - killedAt
    const perUrl = urls.map((u) => fakes.kakao.arrivalsFor(u))
    report('kill -9 mid-model-call', {
      tasks: 3,
      completed: done.length,
      callbacks: perUrl.filter((x) => x.length === 1).length,
      duplicates: perUrl.filter((x) => x.length > 1).length,
      lost: 3 - done.length,
      recovered_ms: recoveredMs,
      lease_ms: 2000,
    })
    // Order, not duration: each task was finished after the kill, on its second attempt (the reclaim).
    expect(done.every((r) => r.attempts === 2 && new Date(r.completed_at).getTime() >= killedAt)).toBe(true)
    expect(perUrl.every((x) => x.length === 1 && x[0]!.status === 'SUCCESS')).toBe(true)
    expect(b!.proc.exitCode).toBeNull()
  }, 60_000)

  test('a worker paused past its lease cannot complete or deliver the task it lost', async () => {
    let n = 0
    fakes.model.setDefault(() => {
      n++
      return n === 1
        ? { delayMs: 1200, content: '먼저 시작한 작업자의 답변' }
        : { delayMs: 300, content: '넘겨받은 작업자의 답변' }
    })
    const {
      procs: [a, b],
      q,
    } = await fleet('qstop', 2)
    const url = fakes.kakao.callbackUrl()
    await ask(a!, 0, url, 'qstop')
    await waitFor(async () => {
      const rows = await q(
        `select id from aiprocessingtask where status = 'processing' and lease_owner like $1`,
        [`%:${a!.pid}:%`],
      )
      return rows.length === 1
    })
    await waitFor(() => fakes.model.inFlight() === 1)
    a!.kill('SIGSTOP')
    const task = await waitFor(
      async () => {
        const [row] = await q(`select * from aiprocessingtask where kind <> 'job'`)
        return row?.status === 'completed' && row.delivered_at ? row : null
      },
      { timeoutMs: 15_000, what: 'the other instance to take over' },
    )
    // A's answer has reached its socket by now; let it wake up and try.
    await waitFor(() => fakes.model.inFlight() === 0)
    a!.kill('SIGCONT')
    await waitFor(() => a!.logs.some((l) => String(l.msg).startsWith('lease lost')), {
      what: 'the stalled worker to notice',
    })
    const [after] = await q(`select * from aiprocessingtask where id = $1`, [task.id])
    const logs = await q(`select msg_id from promptlog where task_id = $1`, [task.id])
    const assistant = await q(`select id from message where conv_id = $1 and role = 'assistant'`, [
      task.conv_id,
    ])
    const arrivals = fakes.kakao.arrivalsFor(url)
    report('SIGSTOP past the lease', {
      callbacks: arrivals.length,
      delivered_answer: JSON.stringify((arrivals[0]?.body as any)?.template?.outputs?.[0]?.simpleText?.text),
      promptlog_rows: logs.length,
      assistant_messages: assistant.length,
    })
    expect(after!.ai_response).toBe('넘겨받은 작업자의 답변')
    expect(arrivals.length).toBe(1)
    expect((arrivals[0]!.body as any).template.outputs[0].simpleText.text).toBe('넘겨받은 작업자의 답변')
    expect(logs.length).toBe(1)
    expect(assistant.length).toBe(1)
    expect(b!.proc.exitCode).toBeNull()
    fakes.model.setDefault({})
  }, 60_000)

  test('2× overload with 3 workers and a slow model: every request gets exactly one callback before expiry', async () => {
    fakes.model.setDefault({ delayMs: 2000, content: '느린 모델의 답변' })
    const ttl = 8000
    const {
      procs: [one],
      q,
    } = await fleet(
      'qload',
      1,
      { CALLBACK_TTL_MS: String(ttl) },
      `${TOML}\n`.replace('min_attempt_ms = 1000', 'min_attempt_ms = 2300\ndeadline_margin_ms = 1500'),
    )
    // Capacity: 3 workers / 2 s = 1.5 tasks/s. Offered: 3 requests/s for 8 s.
    const sent: { url: string; at: number }[] = []
    for (let i = 0; i < 24; i++) {
      const url = fakes.kakao.callbackUrl(ttl)
      sent.push({ url, at: Date.now() })
      void ask(one!, i, url, 'qload')
      await Bun.sleep(333)
    }
    await waitFor(() => sent.every((s) => fakes.kakao.arrivalsFor(s.url).length > 0), {
      timeoutMs: 30_000,
      what: 'a callback for every request',
    })
    const outcomes = sent.map((s) => {
      const arrivals = fakes.kakao.arrivalsFor(s.url)
      const text = (arrivals[0]?.body as any)?.template?.outputs?.[0]?.simpleText?.text as string
      const quick = (arrivals[0]?.body as any)?.template?.quickReplies?.[0]?.label
      return {
        busy: text?.startsWith('지금 문의가 많아') && quick === '답변 확인',
        slow: text?.startsWith('답변을 준비하는 데 시간이') && quick === '답변 확인',
        n: arrivals.length,
        inTime: arrivals[0]!.at < s.at + ttl,
        ok: arrivals[0]!.status === 'SUCCESS',
        answer: text === '느린 모델의 답변',
      }
    })
    // Whatever was not answered in time is still answered later, for "답변 확인".
    await waitFor(
      async () => (await q(`select id from aiprocessingtask where status <> 'completed'`)).length === 0,
      {
        timeoutMs: 60_000,
        what: 'the late tasks to finish',
      },
    )
    report('2x overload', {
      sent: sent.length,
      callbacks: outcomes.filter((o) => o.n === 1).length,
      in_time: outcomes.filter((o) => o.inTime).length,
      answers: outcomes.filter((o) => o.answer).length,
      apologies_busy: outcomes.filter((o) => o.busy).length,
      apologies_slow: outcomes.filter((o) => o.slow).length,
      duplicates: outcomes.filter((o) => o.n > 1).length,
    })
    expect(outcomes.every((o) => o.n === 1 && o.inTime && o.ok)).toBe(true)
    expect(outcomes.some((o) => o.answer)).toBe(true)
    expect(outcomes.every((o) => o.answer || o.busy || o.slow)).toBe(true)
    // The late answers finished after their apology went out: they must not have used a callback again.
    // SIGTERM waits for deliveries in flight, so after the exit nothing more can arrive.
    one!.kill('SIGTERM')
    expect(await one!.exited).toBe(0)
    expect(sent.map((s) => fakes.kakao.arrivalsFor(s.url).length)).toEqual(sent.map(() => 1))
    fakes.model.setDefault({})
  }, 90_000)

  test.skipIf(!requirePgCluster())(
    'PostgreSQL restarted under traffic: 503 and apology bubbles while down, then everything resumes by itself',
    async () => {
      fakes.model.setDefault({ delayMs: 300, content: '재시작 후에도 답변' })
      const cluster = createPgCluster()
      try {
        const proc = await startServe({
          label: 'qrestart',
          toml: TOML,
          env: {
            DATABASE_URL: cluster.url,
            ...fakes.env,
            WORKER_POLL_MS: '500',
          },
        })
        const acked: string[] = []
        const ackTimes: number[] = []
        let apologies = 0
        let invalid = 0
        let running = true
        let i = 0
        const traffic = (async () => {
          while (running) {
            const url = fakes.kakao.callbackUrl()
            const r = await ask(proc, i++, url, 'qrestart')
            if (r.json?.useCallback === true) {
              acked.push(url)
              ackTimes.push(Date.now())
            } else if (
              r.status === 200 &&
              r.json?.template?.outputs?.[0]?.simpleText?.text?.includes('잠시 문제가')
            )
              apologies++
            else invalid++
            await Bun.sleep(100)
          }
        })()
        await waitFor(() => acked.length >= 5)
        cluster.stop('fast')
        const downAt = Date.now()
        const health = await waitFor(async () => {
          const r = await fetch(`${proc.url}/health`)
          return r.status === 503 ? r.status : null
        })
        // Stay down long enough for retries, polls and lease renewals to fail for real.
        await waitFor(() => apologies >= 2 && Date.now() - downAt >= 2000, {
          what: 'apology bubbles while down',
        })
        cluster.start()
        const upAt = Date.now()
        await waitFor(async () => (await fetch(`${proc.url}/health`)).status === 200, {
          what: '/health to recover',
        })
        const healthyAt = Date.now()
        const servingAt = await waitFor(() => ackTimes.find((t) => t > upAt), {
          what: 'a request acknowledged again',
        })
        const ackedBefore = acked.length
        await waitFor(() => acked.length >= ackedBefore + 3, { what: 'more requests acknowledged' })
        running = false
        await traffic
        await waitFor(() => acked.every((u) => fakes.kakao.arrivalsFor(u).length > 0), {
          timeoutMs: 30_000,
          what: 'every acked request to get its callback',
        })
        const perUrl = acked.map((u) => fakes.kakao.arrivalsFor(u))
        report('PostgreSQL restart under traffic', {
          sent: i,
          acked: acked.length,
          apologies_while_down: apologies,
          invalid_replies: invalid,
          callbacks: perUrl.filter((a) => a.length === 1).length,
          duplicates: perUrl.filter((a) => a.length > 1).length,
          lost: perUrl.filter((a) => a.length === 0).length,
          down_ms: upAt - downAt,
          health_recovered_ms_after_start: healthyAt - upAt,
          serving_again_ms_after_start: servingAt - upAt,
        })
        expect(health).toBe(503)
        expect(invalid).toBe(0)
        expect(perUrl.every((a) => a.length === 1 && a[0]!.status === 'SUCCESS')).toBe(true)
      } finally {
        cluster.destroy()
        fakes.model.setDefault({})
      }
    },
    90_000,
  )
})
