import type { Config } from './config.ts'
import { createKbot, type Kbot } from './kbot.ts'
import { createLogSink } from './log-sink.ts'
import { createLogger, type Logger, secretsOf } from './logger.ts'
import { VERSION } from './version.ts'

export interface ServerOptions {
  /** Apply pending migrations before serving (default true; `kbot serve --no-migrate` turns it off). */
  migrate?: boolean
  log?: Logger
}

export interface RunningServer {
  url: string
  port: number
  kbot: Kbot
  log: Logger
  stop(reason?: string): Promise<void>
}

/** config → logger → store (+ migrations) → pipeline → HTTP → workers → schedules. */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const started = performance.now()
  const logSink = createLogSink()
  const log =
    options.log ??
    createLogger({
      level: config.log_level,
      pretty: config.debug || process.stderr.isTTY,
      sink: logSink,
      secrets: secretsOf(config),
    })
  let port = config.port
  const kbot = await createKbot(config, {
    log,
    migrate: options.migrate,
    logSink: options.log ? undefined : logSink,
    selfUrl: () => `http://127.0.0.1:${port}`,
  })
  log.info({ store: kbot.store.describe, pipeline: kbot.pipeline.names }, 'kbot built')
  if (!config.openai.api_key)
    log.warn('OPENAI_API_KEY is not set: kbot serves, but every AI task will fail with that reason')
  if (!config.admin_token)
    log.warn('ADMIN_TOKEN is not set: every /admin/* route and /metrics answer 401 until it is')

  kbot.app.listen({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize: config.kakao.max_body_bytes * 4,
    // Elysia defaults to SO_REUSEPORT, which lets a second kbot on the same port start silently and split the
    // traffic; an operator should get "address in use" instead. No development error pages either.
    reusePort: false,
    development: false,
  })
  port = kbot.app.server?.port ?? config.port
  await kbot.start()
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`
  log.info({ url, version: VERSION, readyMs: Math.round(performance.now() - started) }, 'kbot is serving')

  let stopping: Promise<void> | null = null
  const stop = (reason = 'stop') => {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down: no new requests, finishing running tasks')
      await kbot.app.stop(false)
      await kbot.stop()
      log.info('stopped')
    })()
    return stopping
  }
  return { url, port, kbot, log, stop }
}
