import type { Logger } from '../logger.ts'
import type { PromptCache } from '../pipeline/types.ts'
import type { Db, Notifier } from '../store/db.ts'
import { getActivePrompt, type PromptVersion } from '../store/prompts.ts'

export const PROMPTS_CHANNEL = 'kbot_prompts'

export interface ManagedPromptCache extends PromptCache {
  start(): Promise<void>
  stop(): Promise<void>
  /** Call after creating or activating a version: clears this cache and tells every other instance. */
  changed(): Promise<void>
}

/**
 * The active prompt per name, read once and kept until a change is announced. On PostgreSQL, changes are
 * announced with NOTIFY (and everything is dropped when the listening connection comes back, since
 * announcements may have been missed); entries also expire after `ttlMs` as a backstop, which is what makes a
 * change by `kbot prompts activate` in another process visible on SQLite.
 */
export function createPromptCache(deps: {
  db: Db
  notifier: Notifier | null
  log: Logger
  ttlMs?: number
}): ManagedPromptCache {
  const ttlMs = deps.ttlMs ?? 5000
  const entries = new Map<string, { at: number; value: Promise<PromptVersion | null> }>()
  let unlisten: (() => Promise<void>) | null = null

  const invalidate = () => entries.clear()

  return {
    active(name) {
      const hit = entries.get(name)
      if (hit && Date.now() - hit.at < ttlMs) return hit.value
      const value = getActivePrompt(deps.db, name)
      entries.set(name, { at: Date.now(), value })
      value.catch(() => {
        if (entries.get(name)?.value === value) entries.delete(name)
      })
      return value
    },
    invalidate,
    async start() {
      if (!deps.notifier) return
      try {
        unlisten = await deps.notifier.listen(PROMPTS_CHANNEL, invalidate, invalidate)
      } catch (err) {
        deps.log.warn({ err }, 'LISTEN for prompt changes failed; relying on the cache expiry')
      }
    },
    async stop() {
      await unlisten?.()
    },
    async changed() {
      invalidate()
      await deps.notifier?.notify(PROMPTS_CHANNEL)
    },
  }
}

/**
 * For processes without a cache of their own (the CLI): tells every running instance that prompts changed. On
 * SQLite there is no channel; the serving process sees the change when its cache entries expire (ttlMs).
 */
export const announcePromptChange = (notifier: Notifier | null) => async (): Promise<void> => {
  await notifier?.notify(PROMPTS_CHANNEL)
}
