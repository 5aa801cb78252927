import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin'

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
const REASON = 'Log lines are not behaviour (equivalent mutants).'

/** `log.warn(...)`, `tlog.debug(...)`, `turn.log.info(...)`: a call of a level method on something named *log. */
function isLogCall(node) {
  if (node?.type !== 'CallExpression') return false
  const callee = node.callee
  if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier') return false
  if (!LEVELS.has(callee.property.name)) return false
  const target = callee.object
  const name =
    target.type === 'Identifier'
      ? target.name
      : target.type === 'MemberExpression' && target.property.type === 'Identifier'
        ? target.property.name
        : ''
  return /log$/i.test(name)
}

/** A statement that only logs: `log.x(...)`, a block of such statements, or an `if` (no else) around them. */
function onlyLogs(node) {
  if (!node) return false
  if (node.type === 'ExpressionStatement') return isLogCall(node.expression)
  if (node.type === 'BlockStatement') return node.body.length > 0 && node.body.every(onlyLogs)
  if (node.type === 'IfStatement') return !node.alternate && onlyLogs(node.consequent)
  return false
}

/**
 * Log lines are not behaviour: a mutated message or level, an emptied block that only logged, or a changed
 * condition that only decides whether to log is an equivalent mutant, so Stryker does not mutate those.
 * Event rows (`logEvent`) are behaviour and stay mutated.
 */
export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'log-calls', {
    shouldIgnore(path) {
      if (path.isCallExpression()) return isLogCall(path.node) ? REASON : undefined
      if (path.isStatement()) return onlyLogs(path.node) ? REASON : undefined
      return undefined
    },
  }),
]
