/**
 * The plugins that ship with kbot, in their default order (SPEC §5.3). Each lives in plugins/<name>/index.ts.
 * This is the one list: the config default and the plugin loader both read it.
 */
export const BUILTIN_PLUGINS = [
  'late-answer',
  'crisis-guard',
  'forget-me',
  'name-command',
  'rate-limit',
  'prompt-resolver',
  'history-context',
  'ai-dispatch',
] as const

export type BuiltinPlugin = (typeof BUILTIN_PLUGINS)[number]

export const isBuiltinPlugin = (name: string): name is BuiltinPlugin =>
  (BUILTIN_PLUGINS as readonly string[]).includes(name)
