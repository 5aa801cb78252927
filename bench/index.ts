/**
 * `bun run bench [--quick] [--only ack,saturation,pickup,e2e,throughput,memory,ready,floor]`
 *
 * Measures SPEC §10 against real `kbot serve` processes on the local PostgreSQL (a private schema, dropped at
 * the end), with the fake model and the fake Kakao receiver in this process. Prints a table on stdout, writes
 * bench/results/<timestamp>.json and latest.json, and compares with the previous latest.json. It reports; it
 * does not assert: missed targets still exit 0 (a phase that could not run exits 1).
 *
 * BENCH_DATABASE_URL overrides the PostgreSQL server; BENCH_KBOT_ROOT runs another kbot checkout;
 * BENCH_BASELINE_ROOT adds another checkout to the floor phase, measured in the same run (before/after).
 */
import { cpus, release, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { type BenchEnv, createBenchEnv, PG_URL } from './env.ts'
import { createTurnSender } from './load.ts'
import { floorPhase } from './phases-floor.ts'
import { ackPhase, readyPhase, saturationPhase, seedUsers } from './phases-http.ts'
import { pickupPhase, throughputPhase } from './phases-queue.ts'
import { makePlan, type PhaseContext, type PhaseResult } from './plan.ts'
import {
  type BenchResults,
  GROUPS,
  METRICS,
  metricResults,
  readPrevious,
  renderTable,
  writeResults,
} from './report.ts'
import { KBOT_ROOT, kbotRevision, killAll } from './server.ts'

const PHASES: { name: string; groups: string[]; run: (ctx: PhaseContext) => Promise<PhaseResult> }[] = [
  // Quietest first: start-up and pick-up on a small database, the heavy load last.
  { name: 'ready', groups: ['ready'], run: readyPhase },
  { name: 'pickup', groups: ['pickup', 'e2e'], run: pickupPhase },
  { name: 'throughput', groups: ['throughput'], run: throughputPhase },
  { name: 'ack', groups: ['ack', 'memory'], run: ackPhase },
  { name: 'saturation', groups: ['saturation', 'memory'], run: saturationPhase },
  { name: 'floor', groups: ['floor'], run: floorPhase },
]

const log = (message: string) => console.error(`· ${message}`)

function parseCli() {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(`usage: bun run bench [--quick] [--only ${GROUPS.join(',')}]`)
    process.exit(0)
  }
  const only = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : null
  const unknown = only?.filter((g) => !GROUPS.includes(g)) ?? []
  if (unknown.length > 0) {
    console.error(`bench: unknown metric(s) ${unknown.join(', ')}; choose from ${GROUPS.join(', ')}`)
    process.exit(2)
  }
  return { quick: values.quick, only }
}

/** Pending until the schema exists (and is migrated); a Ctrl-C meanwhile still drops it. */
let envReady: Promise<BenchEnv> | null = null
let cleaning: Promise<void> | null = null
/** Kills every kbot process, closes the fakes and drops the schema; safe to call more than once. */
const cleanup = () => {
  cleaning ??= (async () => {
    await killAll({ final: true })
    const env = await envReady?.catch(() => null)
    await env?.close()
  })()
  return cleaning
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}, cleaning up…`)
    void cleanup().finally(() => process.exit(130))
  })
}

async function main(): Promise<number> {
  const { quick, only } = parseCli()
  const plan = makePlan(quick)
  const wanted = only ?? GROUPS
  const phases = PHASES.filter((p) => p.groups.some((g) => wanted.includes(g)))
  const startedAt = new Date()
  log(`${quick ? 'quick' : 'full'} run: ${phases.map((p) => p.name).join(', ')} on ${PG_URL}`)

  envReady = createBenchEnv()
  const env = await envReady
  log(`schema ${env.schema} migrated`)
  if (env.pipelineNote) log(env.pipelineNote)
  const ctx: PhaseContext = { env, turns: createTurnSender(env.kakao, plan.userPool), plan, log }

  const values: Record<string, number> = {}
  const details: Record<string, unknown> = {}
  const context: string[] = []
  const notes: string[] = env.pipelineNote ? [env.pipelineNote] : []
  const errors: string[] = []
  if (phases.some((p) => p.name !== 'ready')) await seedUsers(ctx)
  for (const phase of phases) {
    try {
      const result = await phase.run(ctx)
      for (const [key, value] of Object.entries(result.metrics)) {
        // Memory is sampled in both load phases: the peak is the larger.
        values[key] = key === 'memory.peak_mb' ? Math.max(values[key] ?? 0, value) : value
      }
      Object.assign(details, result.details)
      context.push(...result.context)
      notes.push(...result.notes)
    } catch (err) {
      errors.push(`${phase.name}: ${(err as Error).message}`)
      log(`${phase.name} failed: ${(err as Error).message}`)
      await killAll()
      await env.resetQueue().catch(() => {})
    }
  }

  const [pg] = await env.sql<{ version: string }[]>`select version()`
  const results: BenchResults = {
    timestamp: startedAt.toISOString(),
    mode: quick ? 'quick' : 'full',
    only,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      bun: Bun.version,
      postgres: pg?.version,
    },
    kbot: { root: KBOT_ROOT, revision: kbotRevision() },
    plan,
    metrics: metricResults(
      // Every figure the phases that ran produce: `--only pickup` also reports its end-to-end overhead.
      METRICS.filter(
        (m) =>
          phases.some((p) => p.groups.includes(m.group)) &&
          // The same-run baseline's rows only when one was measured.
          (!m.key.startsWith('floor.base_') || Boolean(process.env.BENCH_BASELINE_ROOT)),
      ),
      values,
    ),
    context,
    details,
    notes,
    errors,
  }
  const previous = readPrevious()
  const file = writeResults(results)
  console.log()
  console.log(renderTable(results, previous))
  console.log()
  for (const line of context) console.log(`· ${line}`)
  for (const note of notes) console.log(`note: ${note}`)
  for (const error of errors) console.log(`error: ${error}`)
  console.log(`\nwritten to ${file} and bench/results/latest.json`)
  return errors.length > 0 ? 1 : 0
}

let code = 1
try {
  code = await main()
} catch (err) {
  // After Ctrl-C, whatever was running fails as its processes are killed: not worth a stack trace.
  if (!cleaning) console.error(`bench failed: ${(err as Error).stack ?? err}`)
} finally {
  await cleanup()
}
process.exit(code)
