import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { registerProcess, tempDir } from './cleanup.ts'
import { waitFor } from './wait.ts'

const ROOT = join(import.meta.dir, '..', '..')

export interface ServeProcess {
  pid: number
  url: string
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  /** Parsed JSON log lines (stderr). */
  logs: Record<string, unknown>[]
  kill(signal?: NodeJS.Signals | number): void
  exited: Promise<number>
  /** Kills it (SIGKILL) unless it exited, and waits; also done for every process after each test file. */
  release(): Promise<void>
}

/**
 * Starts `kbot serve` (by default `--port 0 --host 127.0.0.1`) as a real process and waits until it listens.
 * The process is registered for cleanup at once; one that never becomes ready is killed before the error.
 */
export async function startServe(opts: {
  env: Record<string, string>
  toml?: string
  label?: string
  /** Working directory (default: the repository); `./data/kbot.db` is relative to it. */
  cwd?: string
  /** Arguments after `serve`. */
  args?: string[]
}): Promise<ServeProcess> {
  const dir = tempDir(`proc-${opts.label ?? 'x'}`)
  const config = join(dir, 'config.toml')
  writeFileSync(config, opts.toml ?? '')
  const args = opts.args ?? ['--port', '0', '--host', '127.0.0.1']
  const proc = Bun.spawn(['bun', join(ROOT, 'cli/index.ts'), 'serve', ...args], {
    cwd: opts.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'info',
      ...(opts.toml === undefined ? {} : { KBOT_CONFIG: config }),
      ...opts.env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const release = registerProcess(proc, `kbot serve ${opts.label ?? ''}`)
  const logs: Record<string, unknown>[] = []
  const reading = (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of proc.stderr) {
      buffer += decoder.decode(chunk, { stream: true })
      let nl = buffer.indexOf('\n')
      while (nl >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        try {
          logs.push(JSON.parse(line))
        } catch {
          logs.push({ msg: line })
        }
        nl = buffer.indexOf('\n')
      }
    }
  })()
  let ready: Record<string, unknown>
  try {
    const seen = await waitFor(
      () => (proc.exitCode !== null ? 'exited' : logs.find((l) => l.msg === 'kbot is serving')),
      { timeoutMs: 20_000, what: 'kbot serve to listen' },
    )
    if (seen === 'exited')
      throw new Error(`kbot serve exited early (${proc.exitCode}): ${JSON.stringify(logs.slice(-5))}`)
    ready = seen
  } catch (err) {
    await release()
    throw err
  }
  return {
    pid: proc.pid,
    url: String(ready.url),
    proc,
    logs,
    kill: (signal = 'SIGTERM') => proc.kill(signal),
    // Resolves once the process has exited and its last log lines have been read.
    exited: Promise.all([proc.exited, reading]).then(([code]) => code),
    release,
  }
}

/** POSTs JSON and returns status and parsed body; network errors become status 0. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, json: text ? JSON.parse(text) : null }
  } catch (err) {
    return { status: 0, json: null, error: (err as Error).message }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await fn(items[i]!, i)
      }
    }),
  )
  return results
}
