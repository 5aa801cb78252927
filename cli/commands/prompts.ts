import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { AppError } from '../../src/errors.ts'
import { announcePromptChange } from '../../src/prompts/cache.ts'
import {
  activatePromptVersion,
  createPrompt,
  diffPrompt,
  listPrompts,
  type PromptView,
  showPrompt,
} from '../../src/services/prompts.ts'
import type { Store } from '../../src/store/db.ts'
import { configFrom, output, table, withStore } from '../shared.ts'

const deps = (store: Store) => ({ db: store.db, changed: announcePromptChange(store.notifier) })

/** A number option as a number when it is one; otherwise the text, so that validation names the field. */
const num = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value.trim() !== '' && Number.isFinite(Number(value))
      ? Number(value)
      : value

const shortDate = (iso: string) => iso.slice(0, 16).replace('T', ' ')

const versionLine = (p: PromptView) =>
  `${p.name} v${p.version}${p.is_active ? ' (active)' : ''}  id ${p.id}  ${shortDate(p.created_at)}` +
  `${p.model ? `  model ${p.model}` : ''}${p.temperature !== null ? `  temperature ${p.temperature}` : ''}` +
  `${p.max_tokens !== null ? `  max_tokens ${p.max_tokens}` : ''}`

export function promptsCommand(): Command {
  const prompts = new Command('prompts').description('prompt templates: versions, activation, rollback')

  prompts
    .command('list')
    .description('every prompt name with its active version')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  kbot prompts list\n  kbot prompts list --json')
    .action(async (_opts: unknown, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const rows = await listPrompts(deps(store))
        output(cmd, rows, () =>
          rows.length === 0
            ? 'no prompts'
            : table(
                ['name', 'active', 'versions', 'active id', 'updated'],
                rows.map((r) => [
                  r.name,
                  r.active_version === null ? 'none' : `v${r.active_version}`,
                  r.versions,
                  r.active_id,
                  shortDate(r.updated_at),
                ]),
              ),
        )
      })
    })

  prompts
    .command('show <name>')
    .description('the active version in full, and every version')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  kbot prompts show default')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const shown = await showPrompt(deps(store), name)
        output(cmd, shown, () =>
          [
            shown.active ? versionLine(shown.active) : `${name}: no active version`,
            ...(shown.active?.description ? [`description: ${shown.active.description}`] : []),
            ...(shown.active ? ['', shown.active.system_prompt, ''] : ['']),
            table(
              ['version', 'active', 'id', 'created', 'model', 'description'],
              shown.versions.map((p) => [
                `v${p.version}`,
                p.is_active ? 'yes' : '',
                p.id,
                shortDate(p.created_at),
                p.model,
                p.description?.slice(0, 40),
              ]),
            ),
          ].join('\n'),
        )
      })
    })

  prompts
    .command('create <name>')
    .description('a new version (max version + 1), active unless --no-activate')
    .option('-f, --file <path>', 'read the system prompt from this file')
    .option('-t, --text <text>', 'the system prompt itself')
    .option('-d, --description <text>', 'what changed, for the version list')
    .option('--model <model>', 'model for this prompt (default: OPENAI_MODEL)')
    .option('--temperature <t>', '0–2 (default: OPENAI_TEMPERATURE)')
    .option('--max-tokens <n>', 'answer length limit (default: OPENAI_MAX_TOKENS)')
    .option('--no-activate', 'create the version without making it active')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nVariables: {{user_name}} (and _vocative, _topic, _subject, _object, _copula), {{today}}, {{now}},\n' +
        '{{summary}}, {{bot_name}}. An unknown {{variable}} is refused.\n\nExamples:\n' +
        '  kbot prompts create default --file prompts/default.md -d "shorter answers"\n' +
        '  kbot prompts create safety --text "당신은 … {{user_name_vocative}}" --model gpt-4o --temperature 0.1\n' +
        '  kbot prompts create default --file draft.md --no-activate',
    )
    .action(async (name: string, opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      if (Boolean(opts.file) === Boolean(opts.text))
        throw new AppError('BAD_REQUEST', 'give the system prompt with exactly one of --file or --text')
      let text = opts.text as string | undefined
      if (opts.file) {
        try {
          // A file's final newline is not part of the prompt (it would show up in every diff).
          text = readFileSync(opts.file as string, 'utf8').replace(/\s+$/, '')
        } catch (err) {
          throw new AppError(
            'BAD_REQUEST',
            `cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code}`,
          )
        }
      }
      await withStore(configFrom(cmd), async (store) => {
        const created = await createPrompt(deps(store), {
          name,
          system_prompt: text,
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.model !== undefined ? { model: opts.model } : {}),
          ...(opts.temperature !== undefined ? { temperature: num(opts.temperature as string) } : {}),
          ...(opts.maxTokens !== undefined ? { max_tokens: num(opts.maxTokens as string) } : {}),
          activate: opts.activate !== false,
        })
        output(cmd, created, () => `created ${versionLine(created)}`)
      })
    })

  prompts
    .command('activate <id>')
    .description('make this version the active one of its name (an older version: the rollback)')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nExample:\n  kbot prompts show default      # find the id of the version\n  kbot prompts activate 0193…',
    )
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const active = await activatePromptVersion(deps(store), id)
        output(cmd, active, () => `active: ${versionLine(active)}`)
      })
    })

  prompts
    .command('diff <name> <v1> <v2>')
    .description('what changed between two versions')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  kbot prompts diff default 1 2')
    .action(async (name: string, v1: string, v2: string, _opts: unknown, cmd: Command) => {
      const from = Number(v1)
      const to = Number(v2)
      if (!Number.isInteger(from) || !Number.isInteger(to))
        throw new AppError(
          'BAD_REQUEST',
          'versions must be whole numbers, e.g. kbot prompts diff default 1 2',
        )
      await withStore(configFrom(cmd), async (store) => {
        const diff = await diffPrompt(deps(store), name, from, to)
        output(cmd, diff, () =>
          [
            `--- ${name} v${from}`,
            `+++ ${name} v${to}`,
            ...diff.params.map((p) => `${p.field}: ${p.from ?? '-'} → ${p.to ?? '-'}`),
            ...diff.lines.map((l) => `${l.op}${l.text}`),
          ].join('\n'),
        )
      })
    })

  return prompts
}
