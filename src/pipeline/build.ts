import { isAbsolute, resolve } from 'node:path'
import * as v from 'valibot'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { BUILTIN_PLUGINS, isBuiltinPlugin } from './builtins.ts'
import { compose } from './compose.ts'
import type { Handler, Plugin, PluginDeps, Turn } from './types.ts'

const PLUGINS_DIR = resolve(import.meta.dir, '..', '..', 'plugins')

async function loadPlugin(name: string, config: Config): Promise<Plugin<unknown>> {
  const custom = config.pipeline.paths[name]
  const file = custom
    ? isAbsolute(custom)
      ? custom
      : resolve(config.configDir, custom)
    : isBuiltinPlugin(name)
      ? resolve(PLUGINS_DIR, name, 'index.ts')
      : null
  if (!file) {
    throw new AppError(
      'PIPELINE_INVALID',
      `unknown plugin "${name}" in [pipeline] order; built-in plugins are ${BUILTIN_PLUGINS.join(', ')}, ` +
        `and your own need a path in [pipeline.paths]`,
    )
  }
  let mod: { default?: Plugin<unknown> }
  try {
    mod = await import(file)
  } catch (err) {
    throw new AppError(
      'PIPELINE_INVALID',
      `plugin "${name}" could not be loaded from ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  const plugin = mod.default
  if (!plugin || typeof plugin.setup !== 'function' || typeof plugin.name !== 'string') {
    throw new AppError('PIPELINE_INVALID', `${file} must export default definePlugin({ name, setup })`)
  }
  if (plugin.name !== name) {
    throw new AppError(
      'PIPELINE_INVALID',
      `plugin at ${file} is named "${plugin.name}", but config calls it "${name}"`,
    )
  }
  return plugin
}

export interface Pipeline {
  readonly names: readonly string[]
  /** Each plugin's options after validation (defaults applied), for code outside the pipeline that shares them. */
  optionsOf(name: string): unknown
  run(turn: Turn): Promise<void>
}

/**
 * Builds the pipeline from `[pipeline] order`. Refuses, with every reason at once, unknown or duplicate names,
 * a plugin whose `requires` does not come earlier, options that do not validate, and options for plugins that
 * are not in the order.
 */
export async function buildPipeline(config: Config, deps: PluginDeps): Promise<Pipeline> {
  const order = config.pipeline.order
  const problems: string[] = []
  const seen = new Set<string>()
  for (const name of order) {
    if (seen.has(name)) problems.push(`"${name}" appears twice in [pipeline] order`)
    seen.add(name)
  }
  for (const name of Object.keys(config.plugins)) {
    if (!seen.has(name))
      problems.push(`[plugins.${name}] is configured but "${name}" is not in [pipeline] order`)
  }
  const plugins: Plugin<unknown>[] = []
  for (const name of [...seen]) {
    try {
      plugins.push(await loadPlugin(name, config))
    } catch (err) {
      problems.push((err as Error).message)
    }
  }
  const position = new Map(order.map((name, i) => [name, i] as const))
  const options = new Map<string, unknown>()
  for (const plugin of plugins) {
    for (const need of plugin.requires ?? []) {
      const at = position.get(need)
      if (at === undefined)
        problems.push(`"${plugin.name}" requires "${need}", which is not in [pipeline] order`)
      else if (at > position.get(plugin.name)!)
        problems.push(`"${plugin.name}" requires "${need}" to come before it`)
    }
    const raw = config.plugins[plugin.name] ?? {}
    if (plugin.options) {
      const parsed = v.safeParse(plugin.options, raw, { abortEarly: false })
      if (parsed.success) options.set(plugin.name, parsed.output)
      else {
        for (const issue of parsed.issues) {
          const key = v.getDotPath(issue)
          problems.push(`[plugins.${plugin.name}]${key ? ` ${key}` : ''}: ${issue.message}`)
        }
      }
    } else if (Object.keys(raw).length > 0) {
      problems.push(`"${plugin.name}" takes no options, but [plugins.${plugin.name}] sets some`)
    }
  }
  if (problems.length > 0) {
    throw new AppError(
      'PIPELINE_INVALID',
      `The pipeline cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      {
        details: problems,
      },
    )
  }
  const handlers: Handler[] = []
  for (const plugin of plugins) {
    const handler = await plugin.setup(
      { ...deps, log: deps.log.child({ plugin: plugin.name }) },
      options.get(plugin.name),
    )
    handlers.push(scoped(plugin.name, handler))
  }
  return { names: plugins.map((p) => p.name), optionsOf: (name) => options.get(name), run: compose(handlers) }
}

/**
 * While a plugin's handler runs, `turn.log` carries `plugin: <name>` (and the request's reqId and userId); the
 * next plugin gets the request's logger back, and so does this one after `next()` returns.
 */
function scoped(name: string, handler: Handler): Handler {
  return async (turn, next) => {
    // A turn built by hand (a plugin's unit test) may come without a logger.
    const outer = turn.log as Turn['log'] | undefined
    if (!outer) return handler(turn, next)
    const own = outer.child({ plugin: name })
    turn.log = own
    try {
      await handler(turn, async () => {
        turn.log = outer
        try {
          await next()
        } finally {
          turn.log = own
        }
      })
    } finally {
      turn.log = outer
    }
  }
}
