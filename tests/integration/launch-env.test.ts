import { afterAll, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { JSC_RAM_SIZE_HINT } from '../../src/util/runtime-env.ts'
import { registerProcess, releaseAll, tempDir } from '../helpers/cleanup.ts'
import { waitFor } from '../helpers/wait.ts'

const ROOT = join(import.meta.dir, '..', '..')
/** `kbot serve` processes started under `bun run`: killed here too, should a test stop before it does. */
const children = new Set<number>()
afterAll(async () => {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  await releaseAll()
})

/** Starts a package.json script that serves, and returns the environment of the `kbot serve` process it ran. */
async function launch(script: string[], preset: Record<string, string>) {
  const dir = tempDir('launch')
  const runner = Bun.spawn(['bun', 'run', ...script, '--port', '0', '--host', '127.0.0.1'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'info',
      DATABASE_URL: `sqlite:${join(dir, 'kbot.db')}`,
      ...preset,
    },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  registerProcess(runner, `bun run ${script.join(' ')}`)
  const lines: Record<string, unknown>[] = []
  void (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of runner.stderr) {
      buffer += decoder.decode(chunk, { stream: true })
      const parts = buffer.split('\n')
      buffer = parts.pop() ?? ''
      for (const line of parts) {
        try {
          lines.push(JSON.parse(line))
        } catch {
          // `bun run` echoes the command line
        }
      }
    }
  })()
  const ready = await waitFor(
    () => (runner.exitCode !== null ? 'exited' : lines.find((l) => l.msg === 'kbot is serving')),
    { timeoutMs: 20_000, what: `bun run ${script.join(' ')} to serve` },
  )
  if (ready === 'exited') throw new Error(`bun run ${script.join(' ')} exited (${runner.exitCode})`)
  const pid = Number(ready.pid)
  children.add(pid)
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  const health = await fetch(`${ready.url}/health`)
  process.kill(pid, 'SIGTERM')
  const code = await runner.exited
  children.delete(pid)
  return { environ, health: health.status, code }
}

const hint = (environ: string[]) =>
  environ.find((e) => e.startsWith('BUN_JSC_forceRAMSize='))?.slice('BUN_JSC_forceRAMSize='.length)

test("`bun run kbot serve` (the README's first command) gives the process the heap hint", async () => {
  const { environ, health, code } = await launch(['kbot', 'serve'], {})
  expect(hint(environ)).toBe(JSC_RAM_SIZE_HINT)
  expect(health).toBe(200)
  expect(code).toBe(0)
})

test('`bun run start` keeps a hint the operator set', async () => {
  const { environ, code } = await launch(['start'], { BUN_JSC_forceRAMSize: '536870912' })
  expect(hint(environ)).toBe('536870912')
  expect(code).toBe(0)
})
