import type { Conversation } from '../store/conversations.ts'
import type { AppUser } from '../store/users.ts'

/** A returning user and their open conversation, as this instance last wrote or read them. */
export interface CachedContext {
  user: AppUser
  conversation: Conversation
}

/**
 * Per-instance memory of (bot, Kakao user) → user + open conversation, so that a returning user's ack is ONE
 * round trip: the turn is decided on the remembered state and the enqueue statement checks, as it writes, that
 * the state still holds (enqueueTurnTask's `expect`); when another instance or the CLI changed it, nothing is
 * written and the turn runs again on a fresh read. Only plain states are served from here: a user being asked
 * for a name or for a forget confirmation is always read, since plugins act on those states by themselves.
 * Bounded: the least recently used entry goes first.
 */
export class ContextCache {
  readonly #entries = new Map<string, CachedContext>()

  constructor(readonly capacity: number) {}

  /** The remembered context if it may decide a turn received at `at` with this session cutoff, else null. */
  get(key: string, cutoff: Date, plusfriendUserKey: string | null): CachedContext | null {
    const hit = this.#entries.get(key)
    if (!hit) return null
    const { user, conversation } = hit
    const plain =
      user.nameState === 'none' &&
      user.forgetUntil == null &&
      conversation.endedAt === null &&
      conversation.lastActivityAt > cutoff &&
      (!plusfriendUserKey || plusfriendUserKey === user.plusfriendUserKey)
    if (!plain) {
      this.#entries.delete(key)
      return null
    }
    // Most recently used last: Map keeps insertion order, so the first key is the one to evict.
    this.#entries.delete(key)
    this.#entries.set(key, hit)
    return hit
  }

  set(key: string, context: CachedContext): void {
    if (this.capacity <= 0) return
    this.#entries.delete(key)
    this.#entries.set(key, context)
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  get size(): number {
    return this.#entries.size
  }
}

export const contextKey = (botId: string, kakaoUserId: string): string => `${botId}\u0000${kakaoUserId}`
