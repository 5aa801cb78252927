import { createInterface } from 'node:readline'
import { Command } from 'commander'
import { startLocalKbot } from '../../src/chat/local-server.ts'
import { defaultChatUserId } from '../../src/chat/payload.ts'
import { type CallbackReceiver, startCallbackReceiver } from '../../src/chat/receiver.ts'
import { type ChatReply, formatReply, replyJson } from '../../src/chat/render.ts'
import { createChatSession } from '../../src/chat/session.ts'
import { AppError } from '../../src/errors.ts'
import type { RunningServer } from '../../src/server.ts'
import { configFrom, type GlobalOptions } from '../shared.ts'

interface ChatOptions {
  url?: string
  user?: string
  bot?: string
  callback: boolean
  secret?: string
  json?: boolean
  logLevel?: string
}

const PROMPT = '나> '

export function chatCommand(): Command {
  return new Command('chat')
    .description('talk to the bot in the terminal as Kakao would (starts a kbot unless --url is given)')
    .option('--url <base>', 'a running kbot, e.g. http://127.0.0.1:8000 (default: start one in this process)')
    .option('--user <id>', 'the Kakao user id to speak as (default: one derived from your login and host)')
    .option('--bot <id>', 'bot.id of the payloads (default: the first KAKAO_BOT_IDS entry, else kbot-chat)')
    .option('--no-callback', 'send no callbackUrl, so kbot answers inline or offers 답변 확인')
    .option('--secret <secret>', 'X-Kbot-Skill-Secret to send (default: KAKAO_SKILL_SECRET)')
    .option('--json', 'one JSON line per bot reply, for scripts')
    .option('--log-level <level>', 'log level of the kbot started in this process (default warn)')
    .action(async (opts: ChatOptions, cmd: Command) => {
      checkOptions(opts)
      const config = configFrom(cmd)
      const info = (line: string) => process.stderr.write(`${line}\n`)
      const receiver: CallbackReceiver | null = opts.callback ? startCallbackReceiver() : null
      let server: RunningServer | null = null
      try {
        let baseUrl = opts.url
        if (baseUrl === undefined) {
          const globals = cmd.optsWithGlobals<GlobalOptions>()
          server = await startLocalKbot({
            flags: {
              ...(globals.config ? { config: globals.config } : {}),
              ...(globals.databaseUrl ? { databaseUrl: globals.databaseUrl } : {}),
            },
            callbackOrigin: receiver?.origin ?? null,
            ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
          })
          baseUrl = server.url
          info(`kbot chat: started kbot at ${baseUrl} on ${server.kbot.store.describe}`)
        } else if (receiver) {
          info(
            `kbot chat: ${baseUrl} must allow ${receiver.origin} in CALLBACK_ALLOWED_HOSTS, else it answers inline`,
          )
        }
        const identity = {
          botId: opts.bot ?? config.kakao.bot_ids[0] ?? 'kbot-chat',
          userId: opts.user ?? defaultChatUserId(),
        }
        info(`kbot chat: you are user ${identity.userId} of bot ${identity.botId}; /quit to leave`)
        await converse(
          createChatSession({
            baseUrl,
            identity,
            receiver,
            secret: opts.secret ?? config.kakao.skill_secret ?? null,
            onWaiting: (text) => {
              if (!opts.json && text) process.stdout.write(`${dim(`(${text})`)}\n`)
            },
          }),
          Boolean(opts.json),
        )
      } finally {
        receiver?.close()
        await server?.stop('kbot chat ended')
      }
      // The worker pool's shutdown grace is a plain sleep that keeps the event loop alive for shutdown_grace_ms
      // (10 s) after a clean stop; `kbot serve` exits explicitly too. Flush stdout first: it may be a pipe.
      if (server) {
        await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
        process.exit(0)
      }
    })
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** Bad options are refused before anything starts. */
function checkOptions(opts: ChatOptions): void {
  if (opts.url !== undefined && !/^https?:\/\/[^/\s]+\/?$/i.test(opts.url))
    throw new AppError('BAD_REQUEST', `--url must be http(s)://host[:port], got "${opts.url}"`)
  for (const [flag, value] of [
    ['--user', opts.user],
    ['--bot', opts.bot],
  ] as const) {
    if (value !== undefined && (value.trim() === '' || value.length > 200))
      throw new AppError('BAD_REQUEST', `${flag} must be 1 to 200 characters`)
  }
  if (opts.logLevel !== undefined && !LOG_LEVELS.includes(opts.logLevel))
    throw new AppError(
      'BAD_REQUEST',
      `--log-level must be one of ${LOG_LEVELS.join('|')}, got "${opts.logLevel}"`,
    )
}

const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text)

/** Reads lines until /quit or EOF; each answer is awaited before the next line, so piped input stays in order. */
async function converse(session: ReturnType<typeof createChatSession>, json: boolean): Promise<void> {
  const show = (reply: ChatReply) => process.stdout.write(`${json ? replyJson(reply) : formatReply(reply)}\n`)
  show(await session.welcome())
  const tty = Boolean(process.stdin.isTTY)
  const rl = createInterface({
    input: process.stdin,
    ...(tty && !json ? { output: process.stdout, terminal: true } : { terminal: false }),
  })
  const prompt = () => {
    if (json) return
    if (tty) rl.prompt()
    else process.stdout.write(PROMPT)
  }
  rl.setPrompt(PROMPT)
  // Ctrl-C (or a signal) ends the chat at once, even while an answer is awaited; the caller then cleans up.
  let interrupt = () => {}
  const interrupted = new Promise<null>((resolve) => {
    interrupt = () => resolve(null)
  })
  const onSignal = () => {
    interrupt()
    rl.close()
  }
  rl.on('SIGINT', onSignal)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  prompt()
  let quit = false
  try {
    for await (const raw of rl) {
      const line = raw.trim()
      // Piped input is not echoed by a terminal: echo it so the transcript reads like a conversation.
      if (!tty && !json) process.stdout.write(`${raw}\n`)
      if (line === '/quit' || line === '/exit') {
        quit = true
        break
      }
      if (line !== '') {
        const reply = await Promise.race([session.say(line), interrupted])
        if (reply === null) break
        show(reply)
      }
      prompt()
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    rl.close()
  }
  // At end of input the prompt is left open on its line.
  if (!quit && !json) process.stdout.write('\n')
}
