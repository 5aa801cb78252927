import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..', '..')

/**
 * Start-up time (SPEC §10: `kbot serve` ready in ≤ 300 ms) is partly module evaluation. pino-pretty (~40 ms)
 * loads only for a terminal; the openai SDK (~50 ms) at start when there is a key (loading it on the first
 * model call stalled live acks), never without one. Checked in a fresh process (this one's module registry
 * already holds both).
 */
describe('an embedded kbot: start-up and stop', () => {
  const probe = (key: string, afterStart = '') => `
    const { loadConfig } = await import('./src/config.ts')
    const { startServer } = await import('./src/server.ts')
    const config = loadConfig({ env: { DATABASE_URL: 'sqlite::memory:', PORT: '0', OPENAI_API_KEY: '${key}', LOG_LEVEL: 'error' } })
    const server = await startServer(config)
    ${afterStart}
    const loaded = (name) => Object.keys(require.cache).some((k) => k.includes('/node_modules/' + name + '/'))
    console.log(JSON.stringify({ openai: loaded('openai'), pretty: loaded('pino-pretty') }))
    await server.stop()
    process.exit(0)`

  const run = (code: string) => {
    const out = Bun.spawnSync(['bun', '-e', code], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
    const line = out.stdout.toString().trim().split('\n').at(-1) ?? ''
    expect({ exit: out.exitCode, stderr: out.exitCode === 0 ? '' : out.stderr.toString() }).toEqual({
      exit: 0,
      stderr: '',
    })
    return JSON.parse(line) as { openai: boolean; pretty: boolean }
  }

  test('kbot serving without a key loads neither the openai SDK nor pino-pretty', () => {
    expect(run(probe(''))).toEqual({ openai: false, pretty: false })
  })

  test('with a key the SDK is loaded before kbot serves, not on the first model call', () => {
    expect(run(probe('sk-test'))).toEqual({ openai: true, pretty: false })
  })

  test('stop() leaves nothing running: the process ends by itself, not when the grace period is over', async () => {
    // A 60 s grace: racing a plain sleep against the finished tasks kept the event loop alive that long.
    const code = `
      const { loadConfig } = await import('./src/config.ts')
      const { startServer } = await import('./src/server.ts')
      const loaded = loadConfig({ env: { DATABASE_URL: 'sqlite::memory:', PORT: '0', LOG_LEVEL: 'error' } })
      const config = { ...loaded, worker: { ...loaded.worker, shutdown_grace_ms: 60_000 } }
      const server = await startServer(config)
      await server.stop()
      console.log('stopped')`
    const proc = Bun.spawn(['bun', '-e', code], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
    try {
      const ended = await Promise.race([proc.exited, Bun.sleep(20_000).then(() => 'still running')])
      proc.kill() // so that its output ends, when it is still running
      const [stdout, stderr] = [
        await new Response(proc.stdout).text(),
        await new Response(proc.stderr).text(),
      ]
      expect({ ended, stdout: stdout.trim(), stderr }).toEqual({ ended: 0, stdout: 'stopped', stderr: '' })
    } finally {
      proc.kill()
    }
  })

  test('without a key, a failure to classify loads the SDK then (its error classes)', () => {
    const classify = `void (await import('./src/ai/retry.ts')).classifyFailure(new Error('x'))`
    expect(run(probe('', classify))).toEqual({ openai: true, pretty: false })
  })
})
