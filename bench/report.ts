import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { round } from './stats.ts'

export const RESULTS_DIR = join(import.meta.dir, 'results')

interface Target {
  op: '<=' | '>='
  value: number
}

export interface MetricDef {
  key: string
  /** The name `--only` selects it by. */
  group: string
  label: string
  unit: string
  /** SPEC §10. */
  target?: Target
  /** Which way is better when there is no target (default: lower). */
  higherIsBetter?: boolean
}

export const METRICS: readonly MetricDef[] = [
  {
    key: 'ack.p50',
    group: 'ack',
    label: 'ack latency p50 @ 200 req/s',
    unit: 'ms',
    target: { op: '<=', value: 3 },
  },
  { key: 'ack.p90', group: 'ack', label: 'ack latency p90 @ 200 req/s', unit: 'ms' },
  {
    key: 'ack.p99',
    group: 'ack',
    label: 'ack latency p99 @ 200 req/s',
    unit: 'ms',
    target: { op: '<=', value: 15 },
  },
  { key: 'ack.max', group: 'ack', label: 'ack latency max @ 200 req/s', unit: 'ms' },
  {
    key: 'saturation.acks_per_s',
    group: 'saturation',
    label: 'acks/s at saturation (64 conns)',
    unit: 'acks/s',
    target: { op: '>=', value: 2000 },
  },
  { key: 'pickup.same.p50', group: 'pickup', label: 'pick-up p50, same instance', unit: 'ms' },
  {
    key: 'pickup.same.p99',
    group: 'pickup',
    label: 'pick-up p99, same instance',
    unit: 'ms',
    target: { op: '<=', value: 10 },
  },
  { key: 'pickup.cross.p50', group: 'pickup', label: 'pick-up p50, across instances', unit: 'ms' },
  {
    key: 'pickup.cross.p99',
    group: 'pickup',
    label: 'pick-up p99, across instances',
    unit: 'ms',
    target: { op: '<=', value: 50 },
  },
  { key: 'e2e.p50', group: 'e2e', label: 'end-to-end overhead p50', unit: 'ms' },
  {
    key: 'e2e.p99',
    group: 'e2e',
    label: 'end-to-end overhead p99',
    unit: 'ms',
    target: { op: '<=', value: 60 },
  },
  {
    key: 'throughput.tasks_per_s',
    group: 'throughput',
    label: 'throughput, 3 workers, 2 s model',
    unit: 'tasks/s',
    target: { op: '>=', value: 1.45 },
  },
  {
    key: 'memory.peak_mb',
    group: 'memory',
    label: 'peak resident memory under load',
    unit: 'MB',
    target: { op: '<=', value: 150 },
  },
  {
    key: 'ready.median_ms',
    group: 'ready',
    label: 'kbot serve ready, spawn → serving',
    unit: 'ms',
    target: { op: '<=', value: 300 },
  },
  { key: 'ready.kbot_ms', group: 'ready', label: 'ready as kbot logs it (readyMs)', unit: 'ms' },
  {
    key: 'floor.floor_acks_c16',
    group: 'floor',
    label: 'floor acks/s (16 conns, wrk)',
    unit: 'acks/s',
    higherIsBetter: true,
  },
  {
    key: 'floor.kbot_acks_c16',
    group: 'floor',
    label: 'kbot acks/s (16 conns, wrk)',
    unit: 'acks/s',
    higherIsBetter: true,
  },
  {
    key: 'floor.share_c16',
    group: 'floor',
    label: "kbot's share of the floor's acks/s, 16 conns",
    unit: '×',
    target: { op: '>=', value: 0.75 },
  },
  {
    key: 'floor.floor_acks_c64',
    group: 'floor',
    label: 'floor acks/s (64 conns, wrk)',
    unit: 'acks/s',
    higherIsBetter: true,
  },
  {
    key: 'floor.kbot_acks_c64',
    group: 'floor',
    label: 'kbot acks/s (64 conns, wrk)',
    unit: 'acks/s',
    higherIsBetter: true,
  },
  {
    key: 'floor.share_c64',
    group: 'floor',
    label: "kbot's share of the floor's acks/s, 64 conns",
    unit: '×',
    target: { op: '>=', value: 0.75 },
  },
  {
    key: 'floor.p50_ratio_c16',
    group: 'floor',
    label: 'ack p50 as a multiple of the floor, 16 conns',
    unit: '×',
    target: { op: '<=', value: 2 },
  },
  {
    key: 'floor.p99_ratio_200',
    group: 'floor',
    label: 'ack p99 as a multiple of the floor, 200 req/s',
    unit: '×',
    target: { op: '<=', value: 2 },
  },
  {
    key: 'floor.base_share_c16',
    group: 'floor',
    label: "baseline's share of the floor's acks/s, 16 conns (BENCH_BASELINE_ROOT)",
    unit: '×',
    higherIsBetter: true,
  },
  {
    key: 'floor.base_share_c64',
    group: 'floor',
    label: "baseline's share of the floor's acks/s, 64 conns",
    unit: '×',
    higherIsBetter: true,
  },
  {
    key: 'floor.base_p99_ratio_200',
    group: 'floor',
    label: "baseline's ack p99 as a multiple of the floor, 200 req/s",
    unit: '×',
  },
  {
    key: 'floor.sqlite_share_c16',
    group: 'floor',
    label: "SQLite: kbot's share of the SQLite floor, 16 conns",
    unit: '×',
    higherIsBetter: true,
  },
]

export const GROUPS = [...new Set(METRICS.map((m) => m.group))]

export interface MetricResult {
  value: number | null
  unit: string
  target: string | null
  pass: boolean | null
}

export interface BenchResults {
  timestamp: string
  mode: 'full' | 'quick'
  only: string[] | null
  machine: Record<string, unknown>
  kbot: { root: string; revision: string | null }
  plan: unknown
  metrics: Record<string, MetricResult>
  context: string[]
  details: Record<string, unknown>
  notes: string[]
  errors: string[]
}

const passes = (value: number, t: Target) => (t.op === '<=' ? value <= t.value : value >= t.value)
const lowerIsBetter = (def: MetricDef) => !def.higherIsBetter && def.target?.op !== '>='

export function metricResults(defs: readonly MetricDef[], values: Record<string, number>) {
  const out: Record<string, MetricResult> = {}
  for (const def of defs) {
    const raw = values[def.key]
    const value = raw === undefined || !Number.isFinite(raw) ? null : round(raw)
    out[def.key] = {
      value,
      unit: def.unit,
      target: def.target ? `${def.target.op} ${def.target.value}` : null,
      pass: def.target && value !== null ? passes(value, def.target) : null,
    }
  }
  return out
}

/** The last run, if any and readable. */
export function readPrevious(): BenchResults | null {
  const file = join(RESULTS_DIR, 'latest.json')
  if (!existsSync(file)) return null
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BenchResults
  } catch {
    return null
  }
}

export function writeResults(results: BenchResults): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const text = `${JSON.stringify(results, null, 2)}\n`
  const file = join(RESULTS_DIR, `${results.timestamp.replace(/:/g, '-')}.json`)
  writeFileSync(file, text)
  writeFileSync(join(RESULTS_DIR, 'latest.json'), text)
  return file
}

function change(def: MetricDef, now: number | null, before: number | null | undefined): string {
  if (now === null || before === null || before === undefined) return ''
  const diff = now - before
  if (diff === 0) return '='
  const pct = before !== 0 ? ` (${diff > 0 ? '+' : ''}${Math.round((diff / Math.abs(before)) * 100)}%)` : ''
  const better = lowerIsBetter(def) ? diff < 0 : diff > 0
  return `${diff > 0 ? '+' : ''}${round(diff)}${pct} ${better ? 'better' : 'worse'}`
}

/** The table for people: metric, value, SPEC target, pass mark, and the change against the last run. */
export function renderTable(results: BenchResults, previous: BenchResults | null): string {
  const defs = METRICS.filter((d) => d.key in results.metrics)
  const rows = defs.map((def) => {
    const m = results.metrics[def.key]!
    const mark = m.value === null ? 'n/a' : m.pass === null ? '' : m.pass ? 'PASS' : 'FAIL'
    return [
      def.label,
      m.value === null ? '—' : `${m.value} ${def.unit}`,
      m.target ? `${m.target} ${def.unit}` : '',
      mark,
      previous ? change(def, m.value, previous.metrics[def.key]?.value) : '',
    ]
  })
  const head = ['metric', 'value', 'SPEC §10 target', 'result', previous ? 'vs last run' : '']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  const out = [
    line(head),
    widths
      .map((w) => '-'.repeat(w))
      .join('  ')
      .trimEnd(),
    ...rows.map(line),
  ]
  if (previous) {
    const same =
      previous.mode === results.mode ? '' : ` — that run was ${previous.mode}, this one ${results.mode}`
    out.push('', `compared with ${previous.timestamp}${same}`)
  }
  return out.join('\n')
}
