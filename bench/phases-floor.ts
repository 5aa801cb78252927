import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kakaoPayload } from '../tests/helpers/kakao.ts'
import { PG_URL } from './env.ts'
import { runWrk, type WrkResult, wrkAvailable } from './floor/wrk.ts'
import { createTurnSender, openLoop, type TurnSender } from './load.ts'
import { type PhaseContext, type PhaseResult, problemNote } from './plan.ts'
import { startProbe } from './probe.ts'
import { type BenchServer, spawnTracked } from './server.ts'
import { median, round, roundAll, summarize } from './stats.ts'

interface Floor {
  url: string
  pid: number
  stop(): Promise<void>
}

/** Starts bench/floor/server.ts and waits for its "floor listening" line. */
async function startFloor(env: Record<string, string>): Promise<Floor> {
  const proc = spawnTracked(['bun', join(import.meta.dir, 'floor', 'server.ts')], env)
  const reader = proc.stderr.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    const m = /"url":"([^"]+)"/.exec(buffer)
    if (!m) continue
    // Keep reading so the pipe never fills up.
    void (async () => {
      while (!(await reader.read()).done) {}
    })()
    return {
      url: m[1]!,
      pid: proc.pid,
      async stop() {
        proc.kill('SIGTERM')
        await proc.exited
      },
    }
  }
  throw new Error(`the floor server exited before it listened (${await proc.exited}): ${buffer.trim()}`)
}

/**
 * Kakao's callback receiver for wrk's requests: every token is new to it, so the fake receiver would answer
 * FAIL and kbot would log each as a rejected callback. This one answers SUCCESS to any POST.
 */
function startSink() {
  return Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () =>
      Response.json({ taskId: crypto.randomUUID(), status: 'SUCCESS', message: 'OK', timestamp: 0 }),
  })
}

interface Side {
  /** `base`: the same-run baseline, another kbot checkout (BENCH_BASELINE_ROOT), e.g. main before a change. */
  name: 'floor' | 'kbot' | 'base'
  url: string
  /** The server process, whose CPU time the fixed-rate loop reads. */
  pid: number
}

/** Returning users per side in the 200 requests/s loop, as many as wrk's pool, and a new user every 20th request. */
const FIXED_USERS = 500
const NEW_EVERY = 20

/** Another kbot checkout measured beside this one and the floor, in the same run: before/after without noise. */
const BASELINE_ROOT = process.env.BENCH_BASELINE_ROOT || null

/**
 * kbot beside the floor in the same run: wrk at 16 and 64 connections, alternating floor and kbot, `rounds`
 * times each, then both at a fixed 200 requests/s (open loop) for the p99; then the same saturation on SQLite.
 * The request mix: a pool of returning users whose conversations grow, a new user every 20th request, a
 * callbackUrl and an X-Request-Id of its own on every request.
 */
export async function floorPhase(ctx: PhaseContext): Promise<PhaseResult> {
  if (!wrkAvailable()) throw new Error('wrk is not installed (apt-get install -y wrk)')
  const { env, plan } = ctx
  const { durationS, rounds, connections, warmupS } = plan.floor
  const dir = mkdtempSync(join(tmpdir(), 'kbench-floor-'))
  const bodyFile = join(dir, 'body.json')
  writeFileSync(
    bodyFile,
    JSON.stringify(
      kakaoPayload({
        utterance: '배송은 보통 며칠 걸리나요?',
        userId: '@@USER@@',
        callbackUrl: '@@CALLBACK@@',
      }),
    ),
  )
  const sinkServer = startSink()
  const sink = `127.0.0.1:${sinkServer.port}`
  env.setModelDelay(plan.backgroundModelMs)
  const servers: { stop(): Promise<void> }[] = []
  const notes: string[] = []
  const runs: Record<string, WrkResult[]> = {}
  let tag = 0
  const wrk = async (side: Side, c: number, seconds: number, key: string | null) => {
    // Every side runs while another is measured: the earlier runs' backlog (thousands of callbacks falling due
    // a minute later, sent by the guard) would land on whichever side comes next, the floor included.
    await env.resetQueue({ keepRunning: true })
    const r = await runWrk({
      url: side.url,
      connections: c,
      durationS: seconds,
      bodyFile,
      sink,
      tag: `${side.name}${tag++}`,
      userPrefix: `wrk-${side.name}-`,
    })
    if (key) {
      runs[key] ??= []
      runs[key].push(r)
    }
    if (r.others > 0 && key)
      notes.push(`floor: ${side.name} c${c} answered ${r.others} requests with something other than the ack`)
    return r
  }
  try {
    const floor = await startFloor({ FLOOR_DB: PG_URL, FLOOR_SCHEMA: env.schema })
    servers.push(floor)
    const allowed = `${env.kakao.origin},http://${sink}`
    const kbot: BenchServer = await env.startKbot('floor-kbot', {
      WORKER_CONCURRENCY: '3',
      CALLBACK_ALLOWED_HOSTS: allowed,
    })
    servers.push(kbot)
    const sides: Side[] = [
      { name: 'floor', url: floor.url, pid: floor.pid },
      { name: 'kbot', url: kbot.url, pid: kbot.pid },
    ]
    if (BASELINE_ROOT) {
      const base = await env.startKbot(
        'floor-base',
        { WORKER_CONCURRENCY: '3', CALLBACK_ALLOWED_HOSTS: allowed },
        BASELINE_ROOT,
      )
      servers.push(base)
      sides.push({ name: 'base', url: base.url, pid: base.pid })
      ctx.log(`floor: baseline ${BASELINE_ROOT} measured beside kbot and the floor`)
    }
    ctx.log(
      `floor: warm-up ${warmupS} s each, then ${rounds} round(s) of ${durationS} s at ${connections.join(' and ')} connections, alternating`,
    )
    for (const side of sides) await wrk(side, 16, warmupS, null)
    for (const c of connections) {
      for (let r = 0; r < rounds; r++) {
        // Each round starts with another side, so that no side always follows the same one.
        const order = sides.map((_, i) => sides[(i + r) % sides.length]!)
        for (const side of r % 2 === 0 ? order : order.reverse())
          await wrk(side, c, durationS, `${side.name}.c${c}`)
      }
    }
    // The same mix as wrk's at 200 requests/s: each side its own pool of returning users, a new user every 20th
    // request. Each side first meets its pool once, unmeasured (as wrk's warm-up does), so that the measured
    // requests are returning users, not first contacts; 2,000 requests over a 2,000-user pool shared by every
    // side had made each measured request a user that process had never seen, or one another kbot had just
    // written (stale: decided again).
    const senders: Record<string, TurnSender> = Object.fromEntries(
      sides.map((side) => [
        side.name,
        createTurnSender(env.kakao, FIXED_USERS, { prefix: `bench-floor-${side.name}`, newEvery: NEW_EVERY }),
      ]),
    )
    ctx.log(
      `floor: 200 requests/s open loop, ${FIXED_USERS} users per side (met once, unmeasured), ${plan.floor.fixedCount} requests per side in ${plan.floor.fixedSegments} interleaved runs`,
    )
    for (const side of sides) {
      await env.resetQueue({ keepRunning: true })
      await openLoop({
        rate: 200,
        // Enough requests for every pool user once, the new users among them.
        count: Math.ceil((FIXED_USERS * NEW_EVERY) / (NEW_EVERY - 1)),
        fire: (i) => senders[side.name]!.send(side.url, `chp-bench-floorwarm-${side.name}-${i}`),
      })
    }
    // In `fixedSegments` short runs per side, interleaved: each starts with another side, every other one in
    // reverse order, so that no side always runs right after another (what the machine does after a saturation
    // round, autovacuum for one, lands on whoever comes first) and a stall of the machine — disk flushes of
    // 20 ms and more come in bursts here — falls on each side alike. With two halves per side, two identical
    // kbots differed by up to 40 % in p99 (README, "The p99 at 200 req/s").
    const latencies: Record<string, number[]> = Object.fromEntries(sides.map((side) => [side.name, []]))
    // CPU milliseconds per request at this rate, of the side's server process and of every PostgreSQL process:
    // one request at a time costs several times what it costs at saturation, where work is shared (README).
    const cpu: Record<string, { server: number; postgres: number; requests: number }> = Object.fromEntries(
      sides.map((side) => [side.name, { server: 0, postgres: 0, requests: 0 }]),
    )
    const segments = plan.floor.fixedSegments
    const each = Math.ceil(plan.floor.fixedCount / segments)
    for (let h = 0; h < segments; h++) {
      const order = sides.map((_, i) => sides[(i + h) % sides.length]!)
      for (const side of h % 2 === 0 ? order : order.reverse()) {
        await env.resetQueue({ keepRunning: true })
        const probe = await startProbe(env.sql, [side.pid])
        const run = await openLoop({
          rate: 200,
          count: each,
          fire: (i) => senders[side.name]!.send(side.url, `chp-bench-floor-${side.name}-${h * each + i}`),
        })
        const used = (await probe.stop(each)).cpuPercentOfOneCore
        const spent = cpu[side.name]!
        spent.server += (used.kbot / 100) * run.elapsedMs
        spent.postgres += (used.postgres / 100) * run.elapsedMs
        spent.requests += each
        if (run.errors > 0) notes.push(`floor: ${side.name} at 200/s: ${run.errors} requests got no ack`)
        latencies[side.name]!.push(...run.latencies)
      }
    }
    const fixed: Record<string, ReturnType<typeof summarize>> = {}
    for (const side of sides) fixed[side.name] = summarize(latencies[side.name] ?? [])
    notes.push(...problemNote('floor (kbot)', kbot.problems))
    for (const s of servers.splice(0)) await s.stop()

    // SQLite: the same one-statement floor (one transaction, WAL, synchronous=NORMAL as kbot) against kbot.
    ctx.log('floor: SQLite, floor then kbot')
    const liteFloor = await startFloor({ FLOOR_DB: `sqlite:${join(dir, 'floor.db')}` })
    servers.push(liteFloor)
    const liteKbot = await env.startKbot('floor-kbot-sqlite', {
      WORKER_CONCURRENCY: '3',
      CALLBACK_ALLOWED_HOSTS: allowed,
      DATABASE_URL: `sqlite:${join(dir, 'kbot.db')}`,
    })
    servers.push(liteKbot)
    const liteSides: Side[] = [
      { name: 'floor', url: liteFloor.url, pid: liteFloor.pid },
      { name: 'kbot', url: liteKbot.url, pid: liteKbot.pid },
    ]
    for (const side of liteSides) await wrk(side, 16, warmupS, null)
    for (let r = 0; r < rounds; r++)
      for (const side of liteSides) await wrk(side, 16, durationS, `sqlite.${side.name}.c16`)

    const best = (key: string) => median((runs[key] ?? []).map((x) => x.acksPerS))
    const p50 = (key: string) => median((runs[key] ?? []).map((x) => x.p50))
    const metrics: Record<string, number> = {}
    for (const c of connections) {
      metrics[`floor.floor_acks_c${c}`] = best(`floor.c${c}`)
      metrics[`floor.kbot_acks_c${c}`] = best(`kbot.c${c}`)
      metrics[`floor.share_c${c}`] = best(`kbot.c${c}`) / best(`floor.c${c}`)
    }
    if (BASELINE_ROOT)
      for (const c of connections)
        metrics[`floor.base_share_c${c}`] = best(`base.c${c}`) / best(`floor.c${c}`)
    metrics['floor.p50_ratio_c16'] = p50('kbot.c16') / p50('floor.c16')
    metrics['floor.p99_ratio_200'] = fixed.kbot!.p99 / fixed.floor!.p99
    if (fixed.base) metrics['floor.base_p99_ratio_200'] = fixed.base.p99 / fixed.floor!.p99
    const cpuPerRequest = Object.fromEntries(
      Object.entries(cpu).map(([name, c]) => [
        name,
        { server: round(c.server / c.requests), postgres: round(c.postgres / c.requests) },
      ]),
    )
    const cpuLine = sides
      .map(
        (side) => `${side.name} ${cpuPerRequest[side.name]!.server} + ${cpuPerRequest[side.name]!.postgres}`,
      )
      .join(', ')
    metrics['floor.sqlite_share_c16'] = best('sqlite.kbot.c16') / best('sqlite.floor.c16')
    const wrkCpu = Math.max(
      ...Object.values(runs)
        .flat()
        .map((r) => r.wrkCpuPercent),
    )
    const range = (key: string) => {
      const xs = (runs[key] ?? []).map((x) => Math.round(x.acksPerS))
      return xs.length > 1 ? `${Math.min(...xs)}–${Math.max(...xs)}` : String(xs[0] ?? '—')
    }
    return {
      metrics,
      details: {
        floor: {
          runs: Object.fromEntries(Object.entries(runs).map(([k, rs]) => [k, rs.map((r) => roundAll(r))])),
          fixedRate200: { floor: roundAll(fixed.floor!), kbot: roundAll(fixed.kbot!) },
          cpuMsPerRequest200: cpuPerRequest,
        },
      },
      context: [
        ...connections.map(
          (c) =>
            `floor c${c}: floor ${range(`floor.c${c}`)} acks/s, kbot ${range(`kbot.c${c}`)} acks/s ` +
            `(p50 floor ${round(p50(`floor.c${c}`))} ms, kbot ${round(p50(`kbot.c${c}`))} ms)` +
            (BASELINE_ROOT
              ? `; baseline ${range(`base.c${c}`)} acks/s (share ${round(metrics[`floor.base_share_c${c}`]!)}, p50 ${round(p50(`base.c${c}`))} ms)`
              : ''),
        ),
        `floor at 200/s: p50 floor ${round(fixed.floor!.p50)} ms / kbot ${round(fixed.kbot!.p50)} ms; ` +
          `p99 floor ${round(fixed.floor!.p99)} ms / kbot ${round(fixed.kbot!.p99)} ms` +
          (fixed.base ? `; baseline p50 ${round(fixed.base.p50)} / p99 ${round(fixed.base.p99)} ms` : ''),
        `floor at 200/s, CPU ms per request (server process + PostgreSQL): ${cpuLine}`,
        `floor SQLite c16: floor ${range('sqlite.floor.c16')} acks/s, kbot ${range('sqlite.kbot.c16')} acks/s`,
        `floor: wrk (1 thread) used at most ${Math.round(wrkCpu)}% of one core`,
      ],
      notes,
    }
  } finally {
    for (const s of servers) await s.stop().catch(() => {})
    sinkServer.stop(true)
    rmSync(dir, { recursive: true, force: true })
    await env.resetQueue()
  }
}
