import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..', '..')

/**
 * Start-up time (SPEC §10: `kbot serve` ready in ≤ 300 ms) is partly module evaluation. The openai SDK
 * (~50 ms) loads on the first model call and pino-pretty (~40 ms) only for a terminal; this pins both, in a
 * fresh process (this one's module registry already holds them).
 */
describe('an embedded kbot: start-up and stop', () => {
  const probe = (afterStart: string) => `
    const { loadConfig } = await import('./src/config.ts')
    const { startServer } = await import('./src/server.ts')
    const config = loadConfig({ env: { DATABASE_URL: 'sqlite::memory:', PORT: '0', OPENAI_API_KEY: 'sk-test', LOG_LEVEL: 'error' } })
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

  test('kbot serving with a key: neither the openai SDK nor pino-pretty is loaded yet', () => {
    expect(run(probe(''))).toEqual({ openai: false, pretty: false })
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

  test('the first use of the SDK loads it (the probe above can see a loaded package)', () => {
    expect(run(probe('void server.kbot.ai?.sdk ?? (await import("./src/ai/sdk.ts")).openaiSdk()'))).toEqual({
      openai: true,
      pretty: false,
    })
  })
})
