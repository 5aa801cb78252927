import type { Command } from 'commander'
import { type Config, type ConfigFlags, loadConfig } from '../src/config.ts'
import { AppError, reasonOf } from '../src/errors.ts'
import { openStore, type Store } from '../src/store/db.ts'

/** Options every command accepts. */
export interface GlobalOptions {
  config?: string
  databaseUrl?: string
  json?: boolean
}

export function configFrom(cmd: Command, flags: Partial<ConfigFlags> = {}): Config {
  const globals = cmd.optsWithGlobals<GlobalOptions>()
  return loadConfig({
    flags: {
      ...(globals.config ? { config: globals.config } : {}),
      ...(globals.databaseUrl ? { databaseUrl: globals.databaseUrl } : {}),
      ...flags,
    },
  })
}

/** Opens the store for one command and always closes it. */
export async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config.database_url, { max: 2 })
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

/** Prints data to stdout: JSON for scripts, the given text for people. */
export function output(cmd: Command, data: unknown, human: () => string): void {
  if (cmd.optsWithGlobals<GlobalOptions>().json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`)
  else process.stdout.write(`${human()}\n`)
}

/** A plain text table: columns padded to their widest cell (Hangul counts double, as a terminal shows it). */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const width = (s: string) =>
    [...s].reduce((n, ch) => n + (/[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/.test(ch) ? 2 : 1), 0)
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => width(r[i] ?? ''))))
  const line = (r: string[]) =>
    r
      .map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - width(c))))
      .join('  ')
      .trimEnd()
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n')
}

/** One-line reason on stderr, non-zero exit. */
export function fail(err: unknown): never {
  const message = err instanceof AppError && err.code === 'CONFIG_INVALID' ? err.message : reasonOf(err)
  process.stderr.write(`kbot: ${message}\n`)
  process.exit(err instanceof AppError && err.code === 'CONFIG_INVALID' ? 2 : 1)
}
