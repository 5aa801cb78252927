#!/usr/bin/env bun
import { Command } from 'commander'
import { VERSION } from '../src/version.ts'
import { migrateCommand } from './commands/migrate.ts'
import { promptsCommand } from './commands/prompts.ts'
import { safetyCommand } from './commands/safety.ts'
import { serveCommand } from './commands/serve.ts'
import { tasksCommand } from './commands/tasks.ts'
import { usageCommand } from './commands/usage.ts'
import { usersCommand } from './commands/users.ts'
import { fail } from './shared.ts'

const program = new Command('kbot')
  .description('kbot: an AI chatbot server for Kakao Business channels')
  .version(VERSION)
  .option('-c, --config <path>', 'config.toml to read (KBOT_CONFIG)')
  .option('--database-url <url>', 'database to use (DATABASE_URL)')
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(migrateCommand())
  .addCommand(promptsCommand())
  .addCommand(tasksCommand())
  .addCommand(usersCommand())
  .addCommand(usageCommand())
  .addCommand(safetyCommand())

try {
  await program.parseAsync()
} catch (err) {
  fail(err)
}
