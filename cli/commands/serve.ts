import { Command } from 'commander'
import { startServer } from '../../src/server.ts'
import { configFrom } from '../shared.ts'

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the Kakao skill server, its workers and schedules')
    .option('-p, --port <port>', 'port to listen on (PORT)')
    .option('-H, --host <host>', 'address to bind (HOST)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (LOG_LEVEL)')
    .option('--no-migrate', 'do not apply pending migrations at start')
    .action(
      async (opts: { port?: string; host?: string; logLevel?: string; migrate: boolean }, cmd: Command) => {
        const config = configFrom(cmd, {
          ...(opts.port !== undefined ? { port: opts.port } : {}),
          ...(opts.host !== undefined ? { host: opts.host } : {}),
          ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}),
        })
        const server = await startServer(config, { migrate: opts.migrate })
        let signals = 0
        const onSignal = (signal: NodeJS.Signals) => {
          signals++
          if (signals > 1) {
            server.log.warn({ signal }, 'second signal: exiting now')
            process.exit(130)
          }
          server
            .stop(signal)
            .then(() => process.exit(0))
            .catch((err) => {
              server.log.error({ err }, 'shutdown failed')
              process.exit(1)
            })
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
      },
    )
}
