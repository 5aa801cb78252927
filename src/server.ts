import type { Config } from './config.ts'
import { createApp } from './http/app.ts'
import { createLogger, type Logger } from './logger.ts'
import { openStore, type Store } from './store/db.ts'
import { migrate } from './store/migrate.ts'
import { VERSION } from './version.ts'

export interface ServerOptions {
  /** Apply pending migrations before serving (default true; `kbot serve --no-migrate` turns it off). */
  migrate?: boolean
  log?: Logger
}

export interface RunningServer {
  url: string
  port: number
  store: Store
  log: Logger
  stop(reason?: string): Promise<void>
}

/**
 * The composition root: config → logger → store (+ migrations) → HTTP app. Everything is created here and
 * handed down; nothing below reads the environment.
 */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const started = performance.now()
  const log =
    options.log ?? createLogger({ level: config.log_level, pretty: config.debug || process.stderr.isTTY })
  const store = await openStore(config.database_url)
  log.info({ store: store.describe }, 'database opened')
  if (options.migrate !== false) {
    const result = await migrate(store.db)
    if (result.applied.length > 0)
      log.info({ applied: result.applied.map((m) => m.id) }, 'migrations applied')
  }
  if (!config.openai.api_key)
    log.warn('OPENAI_API_KEY is not set: the bot will start, but AI answers will fail')
  if (!config.admin_token) log.warn('ADMIN_TOKEN is not set: /admin and /metrics answer 401')

  const app = createApp({ config, store, log })
  app.listen({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize: config.kakao.max_body_bytes * 4,
  })
  const server = app.server!
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${server.port}`
  log.info({ url, version: VERSION, ms: Math.round(performance.now() - started) }, 'kbot is serving')

  let stopping: Promise<void> | null = null
  const stop = (reason = 'stop') => {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down')
      await app.stop(true)
      await store.close()
      log.info('stopped')
    })()
    return stopping
  }
  return { url, port: server.port ?? config.port, store, log, stop }
}
