import { describe, expect, test } from 'bun:test'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pino from 'pino'
import { type Config, loadConfig } from '../../src/config.ts'
import { AppError } from '../../src/errors.ts'
import { buildPipeline } from '../../src/pipeline/build.ts'
import { BUILTIN_PLUGINS } from '../../src/pipeline/builtins.ts'
import { compose } from '../../src/pipeline/compose.ts'
import type { Handler, PluginDeps, Turn } from '../../src/pipeline/types.ts'
import { DEFAULT_MESSAGES } from '../../src/texts.ts'
import { tempDir } from '../helpers/cleanup.ts'

const turnStub = () => ({ vars: {} as Record<string, string>, reply: null }) as unknown as Turn

describe('compose', () => {
  const step =
    (name: string, log: string[]): Handler =>
    async (_turn, next) => {
      log.push(`${name}>`)
      await next()
      log.push(`<${name}`)
    }

  test('runs handlers onion-style: down in order, back up in reverse', async () => {
    const log: string[] = []
    await compose([step('a', log), step('b', log), step('c', log)])(turnStub())
    expect(log).toEqual(['a>', 'b>', 'c>', '<c', '<b', '<a'])
  })

  test('every handler sees the same turn', async () => {
    const turn = turnStub()
    const seen: Turn[] = []
    const record: Handler = async (t, next) => {
      seen.push(t)
      await next()
    }
    await compose([record, record, record])(turn)
    expect(seen).toEqual([turn, turn, turn])
    expect(seen.every((t) => t === turn)).toBe(true)
  })

  test('a handler that does not call next() stops the rest', async () => {
    const log: string[] = []
    const answer: Handler = async (turn) => {
      log.push('b answers')
      turn.vars.answered = 'yes'
    }
    const turn = turnStub()
    await compose([step('a', log), answer, step('c', log)])(turn)
    expect(log).toEqual(['a>', 'b answers', '<a'])
    expect(turn.vars.answered).toBe('yes')
  })

  test('calling next() twice rejects with a clear error, and the rest ran once', async () => {
    const log: string[] = []
    const twice: Handler = async (_turn, next) => {
      await next()
      await next()
    }
    const run = compose([step('a', log), twice, step('c', log)])
    await expect(run(turnStub())).rejects.toThrow('next() called more than once in pipeline step 1')
    expect(log).toEqual(['a>', 'c>', '<c'])
  })

  test('calling next() twice in the last handler also rejects', async () => {
    const twice: Handler = async (_turn, next) => {
      await next()
      await next()
    }
    await expect(compose([twice])(turnStub())).rejects.toThrow('next() called more than once')
  })

  test('an error propagates to the caller through the handlers above it', async () => {
    const log: string[] = []
    const boom: Handler = async () => {
      throw new Error('boom')
    }
    await expect(compose([step('a', log), step('b', log), boom])(turnStub())).rejects.toThrow('boom')
    expect(log).toEqual(['a>', 'b>'])
  })

  test('a synchronous throw becomes a rejection', async () => {
    const sync = (() => {
      throw new Error('sync boom')
    }) as unknown as Handler
    const run = compose([sync])
    let result: Promise<void> | undefined
    expect(() => {
      result = run(turnStub())
    }).not.toThrow()
    await expect(result).rejects.toThrow('sync boom')
  })

  test('an outer handler can catch a downstream error', async () => {
    const caught: string[] = []
    const guard: Handler = async (_turn, next) => {
      try {
        await next()
      } catch (err) {
        caught.push((err as Error).message)
      }
    }
    const boom: Handler = async () => {
      throw new Error('inner')
    }
    await compose([guard, boom])(turnStub())
    expect(caught).toEqual(['inner'])
  })

  test('no handlers resolve; one composition runs many turns', async () => {
    await compose([])(turnStub())
    const log: string[] = []
    const run = compose([step('a', log)])
    await run(turnStub())
    await run(turnStub())
    expect(log).toEqual(['a>', '<a', 'a>', '<a'])
  })
})

describe('buildPipeline', () => {
  const root = tempDir('pipeline')

  const TYPES = resolve(import.meta.dir, '..', '..', 'src', 'pipeline', 'types.ts')
  const VALIBOT = Bun.resolveSync('valibot', import.meta.dir)

  /** Operator plugins, shared by every test through `../plugins/<file>` paths. */
  const PLUGINS: Record<string, string> = {
    'greet.ts': `
      import * as v from '${VALIBOT}'
      import { definePlugin } from '${TYPES}'
      export default definePlugin({
        name: 'greet',
        options: v.strictObject({ word: v.optional(v.pipe(v.string(), v.minLength(1)), '안녕') }),
        setup: (_deps, options) => async (turn, next) => {
          turn.vars.trail = (turn.vars.trail ?? '') + 'greet:' + options.word + ';'
          await next()
        },
      })`,
    'tail.ts': `
      import { definePlugin } from '${TYPES}'
      export default definePlugin({
        name: 'tail',
        requires: ['greet'],
        setup: () => async (turn) => {
          turn.vars.trail = (turn.vars.trail ?? '') + 'tail;'
        },
      })`,
    'needs-nothing-there.ts': `
      import { definePlugin } from '${TYPES}'
      export default definePlugin({ name: 'needs-nothing-there', requires: ['absent'], setup: () => async (_t, next) => next() })`,
    'wrong-name.ts': `
      import { definePlugin } from '${TYPES}'
      export default definePlugin({ name: 'someone-else', setup: () => async (_t, next) => next() })`,
    'not-a-plugin.ts': `export default { hello: 'world' }`,
    'named-export.ts': `
      import { definePlugin } from '${TYPES}'
      export const plugin = definePlugin({ name: 'named-export', setup: () => async (_t, next) => next() })`,
    'throws.ts': `throw new Error('plugin module exploded')`,
    'log-outer.ts': `
      import { definePlugin } from '${TYPES}'
      export default definePlugin({
        name: 'log-outer',
        setup: () => async (turn, next) => {
          turn.log.info('outer before')
          await next()
          turn.log.info('outer after')
        },
      })`,
    'log-inner.ts': `
      import { definePlugin } from '${TYPES}'
      export default definePlugin({
        name: 'log-inner',
        setup: () => async (turn, next) => {
          turn.log.info('inner')
          turn.log = turn.log.child({ own: 'yes' })
          turn.log.info('inner replaced')
          await next()
          turn.log.info('inner after')
        },
      })`,
    'log-quiet.ts': `
      import { definePlugin } from '${TYPES}'
      export default definePlugin({ name: 'log-quiet', setup: () => async (turn) => { turn.vars.quiet = 'yes' } })`,
  }
  mkdirSync(join(root, 'plugins'))
  for (const [name, text] of Object.entries(PLUGINS)) writeFileSync(join(root, 'plugins', name), text)
  const pluginFile = (name: string) => join(root, 'plugins', name)

  let n = 0
  function configWith(toml: string): Config {
    const dir = join(root, `case-${++n}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'config.toml'), toml)
    return loadConfig({ env: {}, cwd: dir })
  }

  const depsFor = (config: Config): PluginDeps => ({
    config,
    db: {} as never,
    log: pino({ level: 'silent' }),
    messages: DEFAULT_MESSAGES,
    prompts: {} as never,
    queue: {} as never,
    now: () => new Date(),
  })

  async function problemsOf(toml: string): Promise<string[]> {
    const config = configWith(toml)
    const err = await buildPipeline(config, depsFor(config)).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('PIPELINE_INVALID')
    const details = (err as AppError).details as string[]
    expect(Array.isArray(details)).toBe(true)
    // The message lists every problem too, for the operator reading the log.
    for (const p of details) expect((err as AppError).message).toContain(`  - ${p}`)
    return details
  }
  test('an unknown time zone for prompt-resolver stops the start, not every turn', async () => {
    const toml =
      '[pipeline]\norder = ["prompt-resolver", "ai-dispatch"]\n[plugins.prompt-resolver]\ntime_zone = "Mars/Olympus_Mons"\n'
    expect(await problemsOf(toml)).toEqual([
      '[plugins.prompt-resolver] time_zone: must be an IANA time zone such as "Asia/Seoul"',
    ])
  })

  const PATHS = `
[pipeline.paths]
greet = "../plugins/greet.ts"
tail = "../plugins/tail.ts"
needs-nothing-there = "../plugins/needs-nothing-there.ts"
log-outer = "../plugins/log-outer.ts"
log-inner = "../plugins/log-inner.ts"
log-quiet = "../plugins/log-quiet.ts"
wrong-name = "../plugins/wrong-name.ts"
not-a-plugin = "../plugins/not-a-plugin.ts"
named-export = "../plugins/named-export.ts"
throws = "../plugins/throws.ts"
missing-file = "../plugins/missing-file.ts"
`

  test('built-in plugins in the shipped order (without name-command) build', async () => {
    const config = configWith(`
[pipeline]
order = ["late-answer", "prompt-resolver", "history-context", "ai-dispatch"]

[plugins.history-context]
max_tokens = 500
`)
    const pipeline = await buildPipeline(config, depsFor(config))
    expect(pipeline.names).toEqual(['late-answer', 'prompt-resolver', 'history-context', 'ai-dispatch'])
    expect(typeof pipeline.run).toBe('function')
  })

  test('an operator plugin loads from a path relative to the config file, with validated options', async () => {
    const config = configWith(`
[pipeline]
order = ["greet", "tail"]
${PATHS}
[plugins.greet]
word = "반가워요"
`)
    const pipeline = await buildPipeline(config, depsFor(config))
    expect(pipeline.names).toEqual(['greet', 'tail'])
    const turn = turnStub()
    await pipeline.run(turn)
    expect(turn.vars.trail).toBe('greet:반가워요;tail;')
  })

  test("turn.log carries the running plugin, is the request's logger around it, and is restored after next()", async () => {
    const config = configWith(`[pipeline]\norder = ["log-outer", "log-inner", "log-quiet"]\n${PATHS}`)
    const lines: Record<string, unknown>[] = []
    const raw: string[] = []
    const request = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          raw.push(line)
          lines.push(JSON.parse(line))
        },
      },
    ).child({ reqId: 'r1' })
    const pipeline = await buildPipeline(config, depsFor(config))
    const turn = { ...turnStub(), log: request } as Turn
    await pipeline.run(turn)
    const seen = lines.map(({ msg, plugin, own, reqId }) => ({ msg, plugin, own, reqId }))
    expect(seen).toEqual([
      { msg: 'outer before', plugin: 'log-outer', own: undefined, reqId: 'r1' },
      { msg: 'inner', plugin: 'log-inner', own: undefined, reqId: 'r1' },
      // A plugin may replace turn.log until it calls next(); the next plugins never see it, and after next()
      // the plugin has its scoped logger again.
      { msg: 'inner replaced', plugin: 'log-inner', own: 'yes', reqId: 'r1' },
      { msg: 'inner after', plugin: 'log-inner', own: undefined, reqId: 'r1' },
      { msg: 'outer after', plugin: 'log-outer', own: undefined, reqId: 'r1' },
    ])
    // One binding each: a plugin's logger is made from the request's, never from the plugin's before it (pino
    // would write both `plugin` keys, and JSON.parse keeps only the last).
    expect(raw.map((line) => line.split('"plugin":').length - 1)).toEqual([1, 1, 1, 1, 1])
    expect(turn.vars.quiet).toBe('yes')
    // After the pipeline, the request's own logger: no plugin binding left behind.
    turn.log.info('after the pipeline')
    expect(lines.at(-1)).toMatchObject({ msg: 'after the pipeline', reqId: 'r1' })
    expect(lines.at(-1)!.plugin).toBeUndefined()
  })

  test('option defaults from the plugin schema apply when [plugins.<name>] is absent', async () => {
    const config = configWith(`[pipeline]\norder = ["greet", "tail"]\n${PATHS}`)
    const turn = turnStub()
    await (await buildPipeline(config, depsFor(config))).run(turn)
    expect(turn.vars.trail).toBe('greet:안녕;tail;')
  })

  test('an absolute plugin path works too', async () => {
    const config = configWith(`
[pipeline]
order = ["greet"]

[pipeline.paths]
greet = "${pluginFile('greet.ts')}"
`)
    expect((await buildPipeline(config, depsFor(config))).names).toEqual(['greet'])
  })

  test('unknown name', async () => {
    expect(await problemsOf(`[pipeline]\norder = ["late-answer", "no-such-plugin"]`)).toEqual([
      `unknown plugin "no-such-plugin" in [pipeline] order; built-in plugins are ${BUILTIN_PLUGINS.join(', ')}, ` +
        'and your own need a path in [pipeline.paths]',
    ])
  })

  test('duplicate name', async () => {
    expect(await problemsOf(`[pipeline]\norder = ["late-answer", "prompt-resolver", "late-answer"]`)).toEqual(
      ['"late-answer" appears twice in [pipeline] order'],
    )
  })

  test('a plugin whose requirement comes later', async () => {
    expect(await problemsOf(`[pipeline]\norder = ["history-context", "prompt-resolver"]`)).toEqual([
      '"history-context" requires "prompt-resolver" to come before it',
    ])
  })

  test('a plugin whose requirement is missing', async () => {
    expect(await problemsOf(`[pipeline]\norder = ["late-answer", "ai-dispatch"]`)).toEqual([
      '"ai-dispatch" requires "prompt-resolver", which is not in [pipeline] order',
    ])
  })

  test('options failing the plugin’s schema: each issue, with its key', async () => {
    const details = await problemsOf(`
[pipeline]
order = ["prompt-resolver", "history-context"]

[plugins.history-context]
max_tokens = "lots"
max_turns = 500
bogus = true
`)
    expect(details).toHaveLength(3)
    expect(details[0]).toStartWith('[plugins.history-context] max_tokens: ')
    expect(details[0]).toContain('"lots"')
    expect(details[1]).toStartWith('[plugins.history-context] max_turns: ')
    expect(details[1]).toContain('500')
    expect(details[2]).toStartWith('[plugins.history-context] bogus: ')
  })

  test('options for a plugin that is not in the order', async () => {
    expect(
      await problemsOf(`[pipeline]\norder = ["prompt-resolver"]\n\n[plugins.late-answer]\nmax_age_hours = 2`),
    ).toEqual(['[plugins.late-answer] is configured but "late-answer" is not in [pipeline] order'])
  })

  test('options for a plugin that takes none', async () => {
    expect(
      await problemsOf(`[pipeline]\norder = ["greet", "tail"]\n${PATHS}\n[plugins.tail]\nx = 1`),
    ).toEqual(['"tail" takes no options, but [plugins.tail] sets some'])
  })

  test.each([
    ['not-a-plugin', 'a default export that is not a plugin'],
    ['named-export', 'no default export'],
  ])('a file exporting something else (%s: %s)', async (name) => {
    expect(await problemsOf(`[pipeline]\norder = ["${name}"]\n${PATHS}`)).toEqual([
      `${pluginFile(`${name}.ts`)} must export default definePlugin({ name, setup })`,
    ])
  })

  test('a plugin whose name differs from its config key', async () => {
    expect(await problemsOf(`[pipeline]\norder = ["wrong-name"]\n${PATHS}`)).toEqual([
      `plugin at ${pluginFile('wrong-name.ts')} is named "someone-else", but config calls it "wrong-name"`,
    ])
  })

  test.each([
    ['throws', 'plugin module exploded'],
    ['missing-file', ''],
  ])('a plugin file that cannot be loaded (%s)', async (name, reason) => {
    const details = await problemsOf(`[pipeline]\norder = ["${name}"]\n${PATHS}`)
    expect(details).toHaveLength(1)
    expect(details[0]).toStartWith(`plugin "${name}" could not be loaded from ${pluginFile(`${name}.ts`)}: `)
    expect(details[0]).toContain(reason)
  })

  test('every problem is reported together, in one PIPELINE_INVALID error', async () => {
    const details = await problemsOf(`
[pipeline]
order = [
  "history-context", "prompt-resolver", "prompt-resolver", "no-such-plugin",
  "ai-dispatch", "needs-nothing-there", "wrong-name", "not-a-plugin", "greet", "tail",
]
${PATHS}
[plugins.greet]
word = ""

[plugins.late-answer]
max_age_hours = 2
`)
    expect(details).toEqual([
      '"prompt-resolver" appears twice in [pipeline] order',
      '[plugins.late-answer] is configured but "late-answer" is not in [pipeline] order',
      expect.stringContaining('unknown plugin "no-such-plugin"'),
      `plugin at ${pluginFile('wrong-name.ts')} is named "someone-else", but config calls it "wrong-name"`,
      `${pluginFile('not-a-plugin.ts')} must export default definePlugin({ name, setup })`,
      '"history-context" requires "prompt-resolver" to come before it',
      '"needs-nothing-there" requires "absent", which is not in [pipeline] order',
      expect.stringMatching(/^\[plugins\.greet\] word: /),
    ])
  })
})
