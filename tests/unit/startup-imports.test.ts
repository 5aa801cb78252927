import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..', '..')

/**
 * Start-up time (SPEC §10: `kbot serve` ready in ≤ 300 ms) is partly module evaluation. The openai SDK
 * (~50 ms) loads on the first model call and pino-pretty (~40 ms) only for a terminal; this pins both, in a
 * fresh process (this one's module registry already holds them).
 */
describe('start-up loads only what serving needs', () => {
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

  test('the first use of the SDK loads it (the probe above can see a loaded package)', () => {
    expect(run(probe('void server.kbot.ai?.sdk ?? (await import("./src/ai/sdk.ts")).openaiSdk()'))).toEqual({
      openai: true,
      pretty: false,
    })
  })
})
