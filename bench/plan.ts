import type { BenchEnv } from './env.ts'
import type { TurnSender } from './load.ts'
import type { startProbe } from './probe.ts'

/** How long and how hard each phase runs; `--quick` shrinks everything for a smoke test. */
export interface Plan {
  quick: boolean
  /** Distinct Kakao users the turns rotate through (each created once, before any phase measures). */
  userPool: number
  /** The model latency while acks are measured: workers stay busy at a realistic pace, as in production. */
  backgroundModelMs: number
  ack: { rate: number; count: number; warmupMs: number }
  saturation: { concurrency: number; durationMs: number; warmupMs: number }
  pickup: { rate: number; count: number; modelMs: number }
  throughput: { tasks: number; modelMs: number; concurrency: number }
  ready: { starts: number }
  /**
   * kbot beside the floor (bench/floor): wrk runs of `durationS`, alternating, `rounds` times per connection count,
   * after `warmupS` of wrk on each side: kbot's JIT compiler thread was still busy 20 s into the load (0.10 →
   * 0.01 ms of CPU per ack over 40 s), so a 3 s warm-up measured its first rounds before steady state.
   */
  floor: {
    durationS: number
    warmupS: number
    rounds: number
    connections: number[]
    /** Requests per side at 200 requests/s, in `fixedSegments` runs interleaved with the other sides'. */
    fixedCount: number
    fixedSegments: number
  }
}

export function makePlan(quick: boolean): Plan {
  return {
    quick,
    userPool: quick ? 400 : 2000,
    backgroundModelMs: 2000,
    ack: { rate: 200, count: quick ? 600 : 2000, warmupMs: quick ? 500 : 2000 },
    saturation: { concurrency: 64, durationMs: quick ? 2000 : 5000, warmupMs: quick ? 500 : 1000 },
    pickup: { rate: 20, count: quick ? 40 : 200, modelMs: 50 },
    throughput: { tasks: quick ? 9 : 30, modelMs: 2000, concurrency: 3 },
    ready: { starts: quick ? 3 : 5 },
    floor: {
      durationS: quick ? 3 : 10,
      warmupS: quick ? 3 : 15,
      rounds: quick ? 1 : 3,
      connections: [16, 64],
      fixedCount: quick ? 600 : 4000,
      fixedSegments: quick ? 2 : 8,
    },
  }
}

/** What a phase gets. */
export interface PhaseContext {
  env: BenchEnv
  turns: TurnSender
  plan: Plan
  /** Progress for people, on stderr (stdout carries the table). */
  log(message: string): void
}

/** What a phase gives back: figures by metric key, and whatever else is worth keeping in the JSON. */
export interface PhaseResult {
  metrics: Record<string, number>
  details: Record<string, unknown>
  /** One-line circumstances printed under the table (what the figures include, where the time went). */
  context: string[]
  /** Things a reader of the table should know (errors, warnings kbot logged). */
  notes: string[]
}

/** Describes the warn/error lines a kbot process logged during a phase, if any. */
export function problemNote(label: string, problems: readonly Record<string, unknown>[]): string[] {
  if (problems.length === 0) return []
  const counts = new Map<string, number>()
  for (const p of problems) counts.set(String(p.msg), (counts.get(String(p.msg)) ?? 0) + 1)
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([msg, n]) => `${n}× "${msg}"`)
  return [`${label}: kbot logged ${problems.length} warn/error line(s): ${top.join(', ')}`]
}

type Resources = Awaited<ReturnType<Awaited<ReturnType<typeof startProbe>>['stop']>>

/** "kbot 81% / PostgreSQL 62% / bench 9% of one core (machine 155% of 200%, 0% stolen), 6.9 commits …" */
export function resourceLine(r: Resources, per = 'request'): string {
  const c = r.cpuPercentOfOneCore
  return (
    `kbot ${Math.round(c.kbot)}% / PostgreSQL ${Math.round(c.postgres)}% / bench ${Math.round(c.bench)}% ` +
    `of one core (machine ${Math.round(c.machine)}% of ${Math.round(c.machineCapacity)}%, ${Math.round(c.stolen)}% ` +
    `stolen), ${r.perRequest.commits} commits and ${r.perRequest.walFlushes} WAL flushes per ${per}`
  )
}
