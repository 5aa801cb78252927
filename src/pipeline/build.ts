import { isAbsolute, resolve } from 'node:path'
import * as v from 'valibot'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { isDeferredInput, type Task, type TaskInput } from '../store/tasks.ts'
import { BUILTIN_PLUGINS, isBuiltinPlugin } from './builtins.ts'
import { compose } from './compose.ts'
import type { AnswerHandler, AnswerRequest, Handler, Plugin, PluginDeps, Turn } from './types.ts'

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
  /**
   * The worker-time part: what the model gets for a task stored with a DeferredInput (the plugins' `compose`
   * parts in pipeline order read the prompt, the summary and the history now).
   */
  composeAnswer(task: Task): Promise<TaskInput>
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
  const composers: AnswerHandler[] = []
  for (const plugin of plugins) {
    const own = { ...deps, log: deps.log.child({ plugin: plugin.name }) }
    const handler = await plugin.setup(own, options.get(plugin.name))
    handlers.push(scoped(plugin.name, handler))
    if (plugin.compose) composers.push(await plugin.compose(own, options.get(plugin.name)))
  }
  const runComposers = compose(composers)
  return {
    names: plugins.map((p) => p.name),
    optionsOf: (name) => options.get(name),
    run: compose(handlers),
    async composeAnswer(task) {
      const input = task.input as unknown
      if (!isDeferredInput(input) || !task.userId || !task.convId)
        throw new AppError('PIPELINE_INVALID', `task ${task.id} holds no deferred turn input`)
      const req: AnswerRequest = {
        taskId: task.id,
        userId: task.userId,
        convId: task.convId,
        messageId: task.messageId,
        utterance: input.utterance,
        receivedAt: new Date(input.receivedAt),
        promptName: input.promptName,
        vars: { ...input.vars },
        prompt: null,
        history: [],
        log: deps.log.child({ taskId: task.id }),
      }
      await runComposers(req)
      const prompt = req.prompt
      if (!prompt)
        throw new AppError('PIPELINE_INVALID', 'no plugin resolved a prompt (is prompt-resolver there?)')
      return {
        messages: [
          { role: 'system', content: prompt.system },
          ...req.history,
          { role: 'user', content: req.utterance },
        ],
        model: prompt.model,
        temperature: prompt.temperature,
        maxTokens: prompt.maxTokens,
        prompt:
          prompt.version.version > 0
            ? { id: prompt.version.id, name: prompt.version.name, version: prompt.version.version }
            : null,
      }
    },
  }
}

/**
 * While a plugin's handler runs, `turn.log` carries `plugin: <name>` (and the request's reqId and userId); the
 * next plugin gets the request's logger back, and so does this one after `next()` returns. The child logger is
 * made only if the plugin logs: most turns pass every plugin without a line, and a pino child per plugin per
 * turn was measurable work on the ack.
 */
function scoped(name: string, handler: Handler): Handler {
  return async (turn, next) => {
    // A turn built by hand (a plugin's unit test) may come without a logger.
    const outer = turn.log as Turn['log'] | undefined
    if (!outer) return handler(turn, next)
    let own: Turn['log'] | undefined
    const enter = () =>
      Object.defineProperty(turn, 'log', {
        configurable: true,
        enumerable: true,
        get: () => {
          own ??= outer.child({ plugin: name })
          return own
        },
        set: (value: Turn['log']) => setLog(turn, value),
      })
    enter()
    try {
      await handler(turn, async () => {
        setLog(turn, outer)
        try {
          await next()
        } finally {
          enter()
        }
      })
    } finally {
      setLog(turn, outer)
    }
  }
}

const setLog = (turn: Turn, log: Turn['log']) =>
  Object.defineProperty(turn, 'log', { configurable: true, enumerable: true, writable: true, value: log })
