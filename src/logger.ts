import pino, { type Logger } from 'pino'
import { createScrubber } from './log-redact.ts'

export type { Logger }

/**
 * Keys that never reach a log line: secrets, auth headers and Kakao callback URLs (the URL itself is the
 * single-use credential for the user's answer).
 */
export const REDACT_PATHS = [
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  '*.headers["x-kbot-skill-secret"]',
  'headers["x-kbot-skill-secret"]',
  '["x-kbot-skill-secret"]',
  'callbackUrl',
  'callback_url',
  '*.callbackUrl',
  '*.callback_url',
  '*.*.callbackUrl',
  'adminToken',
  'admin_token',
  'metricsToken',
  'metrics_token',
  'skillSecret',
  'skill_secret',
]

export interface LoggerOptions {
  level: string
  /** Pretty, human-readable lines (DEBUG or a TTY); JSON otherwise. */
  pretty?: boolean
  destination?: pino.DestinationStream
  /** Also sends warn and above here (the logmessage table). */
  sink?: pino.DestinationStream
  /** Configured secret values (API key, tokens, skill secret): masked wherever they appear in a line. */
  secrets?: readonly (string | undefined)[]
}

/** The secret values of a config, for `createLogger({ secrets })`. */
export const secretsOf = (config: {
  admin_token?: string
  metrics_token?: string
  openai: { api_key?: string }
  kakao: { skill_secret?: string }
}) => [config.admin_token, config.metrics_token, config.openai.api_key, config.kakao.skill_secret]

const DEBUG_LEVEL = 20

export function createLogger(options: LoggerOptions): Logger {
  const scrub = createScrubber(options.secrets)
  const err = (e: unknown) => scrub.value(pino.stdSerializers.err(e as Error), true)
  const base: pino.LoggerOptions = {
    level: options.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err, error: err },
    hooks: {
      // Path redaction cannot see inside strings: callback tokens in URLs, keys in error messages. User text
      // (utterances, answers) is kept only at debug level.
      logMethod(args, method, level) {
        const show = level <= DEBUG_LEVEL
        const clean = args.map((a) => scrub.value(a, show)) as Parameters<typeof method>
        return method.apply(this, clean)
      },
    },
  }
  const main =
    options.destination ??
    // Logs go to stderr so that CLI commands keep stdout for data. Writes are synchronous: at info level kbot
    // logs lifecycle and warnings only, and an asynchronous buffer lost the last lines when the process exited.
    (options.pretty
      ? // pino-pretty loads only when asked for (a terminal or debug): it costs start-up time otherwise.
        (require('pino-pretty') as typeof import('pino-pretty'))({
          destination: 2,
          colorize: process.stderr.isTTY,
          sync: true,
        })
      : pino.destination({ dest: 2, sync: true }))
  if (!options.sink) return pino(base, main)
  const level = options.level as pino.Level
  return pino(
    base,
    pino.multistream([
      { level, stream: main },
      { level: 'warn', stream: options.sink },
    ]),
  )
}

const LEVEL_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
const noop = () => {}
/** Each lazy logger's way to its real pino child. */
const materialise = new WeakMap<Logger, () => Logger>()

/**
 * `parent.child(bindings)`, made only when a line is written at an enabled level. A pino child serializes (and
 * redacts) its bindings when it is made; the ack made two per request (reqId, userId) for lines that, at info,
 * are rarely written. The lazy logger answers `isLevelEnabled` and disabled levels itself; anything else makes
 * the real child once and goes to it. Its own `child()` is lazy too.
 */
export function lazyChild(parent: Logger, bindings: pino.Bindings): Logger {
  let real: Logger | null = null
  const made = () => {
    // A lazy parent is made real first (its own child() would hand back another lazy logger).
    real ??= (materialise.get(parent)?.() ?? parent).child(bindings)
    return real
  }
  const isLevelEnabled = (level: string) => parent.isLevelEnabled(level)
  const proxy: Logger = new Proxy(parent, {
    get(_target, prop) {
      if (real === null) {
        if (typeof prop === 'string' && LEVEL_METHODS.has(prop) && !parent.isLevelEnabled(prop)) return noop
        if (prop === 'isLevelEnabled') return isLevelEnabled
        if (prop === 'level') return parent.level
        if (prop === 'child') return (more: pino.Bindings) => lazyChild(proxy, more)
      }
      const target = made()
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  materialise.set(proxy, made)
  return proxy
}

/** A logger that discards everything; for tests and CLI commands that print their own output. */
export const silentLogger = (): Logger => pino({ level: 'silent' })
