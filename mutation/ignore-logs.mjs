import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin'

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])

/**
 * Log lines are not behaviour: a mutated message or level is an equivalent mutant, so Stryker does not mutate
 * inside calls like `log.warn(...)`, `tlog.debug(...)` or `turn.log.info(...)`. Event rows (`logEvent`) are
 * behaviour and stay mutated.
 */
export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'log-calls', {
    shouldIgnore(path) {
      if (!path.isCallExpression()) return undefined
      const callee = path.node.callee
      if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier') return undefined
      if (!LEVELS.has(callee.property.name)) return undefined
      const target = callee.object
      const name =
        target.type === 'Identifier'
          ? target.name
          : target.type === 'MemberExpression' && target.property.type === 'Identifier'
            ? target.property.name
            : ''
      return /log$/i.test(name) ? 'Log lines are not behaviour (equivalent mutants).' : undefined
    },
  }),
]
