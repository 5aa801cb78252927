import { closedLoop, openLoop } from './load.ts'
import { type PhaseContext, type PhaseResult, problemNote, resourceLine } from './plan.ts'
import { startProbe } from './probe.ts'
import type { BenchServer } from './server.ts'
import { median, round, roundAll, summarize } from './stats.ts'

/**
 * Creates every user of the pool once (one turn each, nobody working the queue), so that the phases measure
 * returning users, the common case of a busy channel, and not account creation.
 */
export async function seedUsers(ctx: PhaseContext): Promise<void> {
  const { env, turns, plan } = ctx
  ctx.log(`seed: ${plan.userPool} users`)
  const server = await env.startKbot('seed', { WORKER_CONCURRENCY: '0' })
  try {
    let next = 0
    let failed = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < plan.userPool) {
          if (!(await turns.send(server.url, `chp-bench-seed-${next++}`))) failed++
        }
      }),
    )
    if (failed > 0) throw new Error(`seed: ${failed} of ${plan.userPool} turns were not acknowledged`)
  } finally {
    await server.stop()
    await env.resetQueue()
  }
}

/** Samples VmRSS every 100 ms while load runs; `stop()` gives the peak (VmHWM included). */
function sampleMemory(server: BenchServer) {
  let peakRss = 0
  const sample = () => {
    const m = server.memory()
    if (m) peakRss = Math.max(peakRss, m.rssMb)
  }
  const timer = setInterval(sample, 100)
  return {
    stop() {
      clearInterval(timer)
      sample()
      const hwm = server.memory()?.hwmMb ?? 0
      return { peakRssMb: round(peakRss), hwmMb: round(hwm), peakMb: round(Math.max(peakRss, hwm)) }
    },
  }
}

/**
 * Ack latency at a fixed 200 requests/s (open loop, measured from each request's scheduled send time), with
 * three workers answering through a 2 s model meanwhile, as they would in production.
 */
export async function ackPhase(ctx: PhaseContext): Promise<PhaseResult> {
  const { env, turns, plan } = ctx
  const { rate, count, warmupMs } = plan.ack
  env.setModelDelay(plan.backgroundModelMs)
  const server = await env.startKbot('ack', { WORKER_CONCURRENCY: '3' })
  try {
    ctx.log(`ack: warm-up ${warmupMs} ms, then ${count} requests at ${rate}/s (open loop)`)
    await closedLoop({
      concurrency: 8,
      durationMs: warmupMs,
      fire: (i) => turns.send(server.url, `chp-bench-ackwarm-${i}`),
    })
    // A floor for comparison: GET /health (HTTP plus one `select 1`) at the same rate.
    const health = await openLoop({
      rate,
      count: Math.min(count, 400),
      fire: async () => {
        try {
          const res = await fetch(`${server.url}/health`)
          await res.arrayBuffer()
          return res.ok
        } catch {
          return false
        }
      },
    })
    const floor = summarize(health.latencies)
    const memory = sampleMemory(server)
    const probe = await startProbe(env.sql, [server.pid])
    const run = await openLoop({ rate, count, fire: (i) => turns.send(server.url, `chp-bench-ack-${i}`) })
    const resources = await probe.stop(count)
    const mem = memory.stop()
    const s = summarize(run.latencies)
    const notes = problemNote('ack', server.problems)
    if (run.errors > 0) notes.push(`ack: ${run.errors} of ${count} requests got no useCallback ack`)
    if (run.maxLagMs > 20)
      notes.push(`ack: the load generator fell ${round(run.maxLagMs)} ms behind schedule`)
    return {
      metrics: {
        'ack.p50': s.p50,
        'ack.p90': s.p90,
        'ack.p99': s.p99,
        'ack.max': s.max,
        'memory.peak_mb': mem.peakMb,
      },
      details: {
        ack: {
          rate,
          requests: count,
          errors: run.errors,
          maxLagMs: round(run.maxLagMs),
          latency: roundAll(s),
        },
        healthAtSameRate: { requests: health.latencies.length, latency: roundAll(floor) },
        memoryDuringAck: mem,
        resourcesDuringAck: resources,
      },
      context: [
        `ack: 3 workers on a ${plan.backgroundModelMs} ms model meanwhile; GET /health (one \`select 1\`) at the ` +
          `same rate: p50 ${round(floor.p50)} ms, p99 ${round(floor.p99)} ms`,
        `ack: ${resourceLine(resources, 'ack')}`,
      ],
      notes,
    }
  } finally {
    await server.stop()
    await env.resetQueue()
  }
}

/** Acks per second with `concurrency` connections each sending the next request as soon as a reply is read. */
export async function saturationPhase(ctx: PhaseContext): Promise<PhaseResult> {
  const { env, turns, plan } = ctx
  const { concurrency, durationMs, warmupMs } = plan.saturation
  env.setModelDelay(plan.backgroundModelMs)
  const server = await env.startKbot('saturation', { WORKER_CONCURRENCY: '3' })
  try {
    ctx.log(`saturation: warm-up ${warmupMs} ms, then ${concurrency} connections for ${durationMs} ms`)
    await closedLoop({
      concurrency,
      durationMs: warmupMs,
      fire: (i) => turns.send(server.url, `chp-bench-satwarm-${i}`),
    })
    const memory = sampleMemory(server)
    const probe = await startProbe(env.sql, [server.pid])
    const run = await closedLoop({
      concurrency,
      durationMs,
      fire: (i) => turns.send(server.url, `chp-bench-sat-${i}`),
    })
    const resources = await probe.stop(run.ok + run.errors)
    const mem = memory.stop()
    const acksPerS = (run.ok / run.elapsedMs) * 1000
    const latency = summarize(run.latencies)
    const notes = problemNote('saturation', server.problems)
    if (run.errors > 0) notes.push(`saturation: ${run.errors} requests got no useCallback ack`)
    return {
      metrics: { 'saturation.acks_per_s': acksPerS, 'memory.peak_mb': mem.peakMb },
      details: {
        saturation: {
          concurrency,
          durationMs: round(run.elapsedMs),
          acks: run.ok,
          errors: run.errors,
          latency: roundAll(latency),
        },
        memoryDuringSaturation: mem,
        resourcesDuringSaturation: resources,
      },
      context: [
        `saturation: ${run.ok} acks in ${round(run.elapsedMs / 1000)} s, latency p50 ${round(latency.p50)} ms, ` +
          `p99 ${round(latency.p99)} ms; ${resourceLine(resources, 'ack')}`,
      ],
      notes,
    }
  } finally {
    await server.stop()
    await env.resetQueue()
  }
}

/** `kbot serve` from spawn to its "kbot is serving" line, on an already migrated database. */
export async function readyPhase(ctx: PhaseContext): Promise<PhaseResult> {
  const { starts } = ctx.plan.ready
  ctx.log(`ready: ${starts} starts of kbot serve`)
  const spawnToReady: number[] = []
  const logged: number[] = []
  const rssAtReady: number[] = []
  const notes: string[] = []
  for (let i = 0; i < starts; i++) {
    const server = await ctx.env.startKbot(`ready-${i}`, { WORKER_CONCURRENCY: '3' })
    spawnToReady.push(server.spawnToReadyMs)
    if (server.readyMs !== null) logged.push(server.readyMs)
    rssAtReady.push(server.memory()?.rssMb ?? Number.NaN)
    await server.stop()
    notes.push(...problemNote(`ready #${i + 1}`, server.problems))
  }
  return {
    metrics: { 'ready.median_ms': median(spawnToReady), 'ready.kbot_ms': median(logged) },
    details: {
      ready: {
        spawnToReadyMs: spawnToReady.map(round),
        readyMsLogged: logged,
        rssAtReadyMb: rssAtReady.map(round),
      },
    },
    context: [
      `ready: ${starts} starts, spawn → serving ${spawnToReady.map((ms) => Math.round(ms)).join(', ')} ms ` +
        `(kbot's own readyMs ${logged.join(', ')}); resident memory when ready ${round(median(rssAtReady))} MB`,
    ],
    notes,
  }
}
