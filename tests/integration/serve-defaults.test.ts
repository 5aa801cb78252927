import { afterAll, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { releaseAll, tempDir } from '../helpers/cleanup.ts'
import { startServe } from '../helpers/proc.ts'

const dir = tempDir('defaults')
afterAll(releaseAll)

function portFree(port: number): boolean {
  try {
    Bun.listen({ hostname: '0.0.0.0', port, socket: { data() {} } }).stop(true)
    return true
  } catch {
    return false
  }
}

/** Port 8000 taken by something else: a loud skip on a developer's machine, a failure under CI=true. */
function requirePort8000(): boolean {
  if (portFree(8000)) return true
  if (process.env.CI === 'true')
    throw new Error('CI=true: port 8000 is busy; the default-port test cannot run')
  console.warn('\n!! port 8000 is busy: the "kbot serve with no configuration" test is SKIPPED.\n')
  return false
}

/** `kbot serve` with no configuration at all: port 8000, SQLite at ./data/kbot.db (directory created). */
test.skipIf(!requirePort8000())(
  'kbot serve with no configuration serves on 8000 with SQLite at ./data/kbot.db; SIGINT stops it cleanly',
  async () => {
    const p = await startServe({ cwd: dir, args: [], env: {} })
    expect(p.url).toBe('http://127.0.0.1:8000')
    expect(await (await fetch('http://127.0.0.1:8000/health')).json()).toEqual({ status: 'ok' })
    expect(existsSync(join(dir, 'data', 'kbot.db'))).toBe(true)
    const built = p.logs.find((l) => l.msg === 'kbot built')
    expect(built?.store).toBe(`sqlite ${join(dir, 'data', 'kbot.db')}`)
    p.kill('SIGINT')
    expect(await p.exited).toBe(0)
    expect(p.logs.at(-1)?.msg).toBe('stopped')
  },
)
