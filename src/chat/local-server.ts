import { type ConfigFlags, loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { type RunningServer, startServer } from '../server.ts'

export interface LocalKbotOptions {
  /** The same flags the command was given (config file, database URL). */
  flags: ConfigFlags
  /** The local callback receiver's origin, to be added to CALLBACK_ALLOWED_HOSTS; null without callbacks. */
  callbackOrigin: string | null
  /** `kbot chat` keeps the terminal for the conversation: warnings and errors only, unless asked. */
  logLevel?: string
  env?: Record<string, string | undefined>
}

/**
 * A kbot for `kbot chat` in this process, on the configured database, on 127.0.0.1 and a free port. Its
 * callback allow-list also accepts the local receiver, through the same environment override an operator
 * would use, so the configuration is validated exactly as `kbot serve` validates it.
 */
export async function startLocalKbot(options: LocalKbotOptions): Promise<RunningServer> {
  const env = options.env ?? process.env
  const flags: ConfigFlags = { ...options.flags, host: '127.0.0.1', port: 0 }
  let config = loadConfig({ flags, env })
  if (options.callbackOrigin) {
    const hosts = [...config.kakao.callback_allowed_hosts, options.callbackOrigin]
    config = loadConfig({ flags, env: { ...env, CALLBACK_ALLOWED_HOSTS: hosts.join(',') } })
  }
  const log = createLogger({ level: options.logLevel ?? 'warn', pretty: process.stderr.isTTY })
  return startServer(config, { log })
}
