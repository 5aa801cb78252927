import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { RUNTIME_ENV } from '../src/util/runtime-env.ts'

/** The kbot tree to run; BENCH_KBOT_ROOT measures another checkout (e.g. a branch) against the same bench. */
export const KBOT_ROOT = process.env.BENCH_KBOT_ROOT ?? join(import.meta.dir, '..')
const READY_MSG = 'kbot is serving'

/** Every child this bench started and has not yet seen exit; killed on any way out. */
const live = new Set<Subprocess>()
/** Set once the bench is shutting down: from then on nothing new is started (no orphans after Ctrl-C). */
let closed = false

function spawn(args: string[], env: Record<string, string>, stdout: 'ignore' | 'pipe', root = KBOT_ROOT) {
  return spawnTracked(['bun', 'cli/index.ts', ...args], env, stdout, root)
}

/** Any child process of the bench, killed by `killAll` on every way out. */
export function spawnTracked(
  cmd: string[],
  env: Record<string, string>,
  stdout: 'ignore' | 'pipe' = 'ignore',
  cwd = KBOT_ROOT,
) {
  if (closed) throw new Error('the bench is shutting down')
  const proc = Bun.spawn(cmd, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdin: 'ignore',
    stdout,
    stderr: 'pipe',
  })
  live.add(proc)
  void proc.exited.then(() => live.delete(proc))
  return proc
}

export interface Memory {
  rssMb: number
  hwmMb: number
}

export interface BenchServer {
  label: string
  pid: number
  url: string
  /** Spawn → the "kbot is serving" line read from stderr, measured here. */
  spawnToReadyMs: number
  /** `readyMs` as kbot logs it (its own start-up, without Bun's start). */
  readyMs: number | null
  /** Log lines at warn (40) or above, after parsing. */
  problems: Record<string, unknown>[]
  memory(): Memory | null
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>
}

/** VmRSS and VmHWM (peak RSS) of a process, from /proc; null once it is gone. */
export function readMemory(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0)
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
  } catch {
    return null
  }
}

/**
 * Starts `kbot serve --port 0` as a real process (as an operator would) and resolves once it logs that it
 * serves. kbot logs JSON to stderr; LOG_LEVEL=info is needed for the ready line, and everything below warn is
 * dropped after it is parsed, so a long run does not pile up log lines.
 */
export async function startServer(opts: {
  label: string
  env: Record<string, string>
  timeoutMs?: number
  /** Another kbot checkout to run (the floor phase's same-run baseline); KBOT_ROOT by default. */
  root?: string
}): Promise<BenchServer> {
  const spawnedAt = performance.now()
  const proc = spawn(
    ['serve', '--port', '0', '--host', '127.0.0.1'],
    // As `bun run kbot serve` and the Docker image start it (src/util/runtime-env.ts).
    { LOG_LEVEL: 'info', ...RUNTIME_ENV, ...opts.env },
    'ignore',
    opts.root,
  )

  const problems: Record<string, unknown>[] = []
  const tail: string[] = []
  const ready = Promise.withResolvers<{ at: number; line: Record<string, unknown> }>()
  let isReady = false
  void (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of proc.stderr) {
      const at = performance.now()
      buffer += decoder.decode(chunk, { stream: true })
      let nl = buffer.indexOf('\n')
      while (nl >= 0) {
        const text = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        nl = buffer.indexOf('\n')
        tail.push(text)
        if (tail.length > 20) tail.shift()
        let line: Record<string, unknown>
        try {
          line = JSON.parse(text)
        } catch {
          line = { level: 50, msg: text }
        }
        if (!isReady && line.msg === READY_MSG) {
          isReady = true
          ready.resolve({ at, line })
        } else if (Number(line.level) >= 40 && problems.length < 1000) problems.push(line)
      }
    }
  })()

  const timeoutMs = opts.timeoutMs ?? 20_000
  const timer = setTimeout(() => {
    proc.kill('SIGKILL')
    ready.reject(new Error(`${opts.label}: kbot serve not ready after ${timeoutMs} ms:\n${tail.join('\n')}`))
  }, timeoutMs)
  void proc.exited.then((code) => {
    // Give the reader a moment to drain the last lines before quoting them (no-op once ready).
    setTimeout(
      () => ready.reject(new Error(`${opts.label}: kbot serve exited (${code}):\n${tail.join('\n')}`)),
      50,
    )
  })
  const { at, line } = await ready.promise.finally(() => clearTimeout(timer))

  return {
    label: opts.label,
    pid: proc.pid,
    url: String(line.url),
    spawnToReadyMs: at - spawnedAt,
    readyMs: typeof line.readyMs === 'number' ? line.readyMs : null,
    problems,
    memory: () => readMemory(proc.pid),
    async stop(graceMs = 3000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await proc.exited
      clearTimeout(timer)
    },
  }
}

/**
 * Kills every child still running (SIGKILL) and waits for them; for error paths and Ctrl-C. `final` also
 * refuses every later start, for when the bench itself is going away.
 */
export async function killAll(opts: { final?: boolean } = {}): Promise<void> {
  if (opts.final) closed = true
  const procs = [...live]
  for (const p of procs) p.kill('SIGKILL')
  await Promise.all(procs.map((p) => p.exited))
}

/** Runs a kbot CLI command (of the tree at `root`) to completion (e.g. `migrate`); throws with its stderr when it fails. */
export async function runCli(args: string[], env: Record<string, string>, root?: string): Promise<void> {
  const proc = spawn(args, env, 'pipe', root)
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
  if (code !== 0) throw new Error(`kbot ${args.join(' ')} failed (${code}): ${err.trim()}`)
}

/** The commit of the kbot tree under test, with "-dirty" when it has uncommitted changes; null outside git. */
export function kbotRevision(): string | null {
  const run = (args: string[]) => Bun.spawnSync(['git', ...args], { cwd: KBOT_ROOT, stderr: 'ignore' })
  const head = run(['rev-parse', '--short', 'HEAD'])
  if (head.exitCode !== 0) return null
  const dirty = run(['status', '--porcelain', '--', 'src', 'plugins', 'cli', 'migrations'])
    .stdout.toString()
    .trim()
  return `${head.stdout.toString().trim()}${dirty ? '-dirty' : ''}`
}
