import { describe, expect, test } from 'bun:test'
import { type CachedContext, ContextCache, contextKey } from '../../src/kakao/context-cache.ts'

const at = new Date('2026-12-01T10:00:00Z')
const cutoff = new Date(at.getTime() - 30 * 60_000)

function entry(
  over: { user?: Partial<CachedContext['user']>; conversation?: Partial<CachedContext['conversation']> } = {},
) {
  return {
    user: {
      id: 'u1',
      botId: 'b',
      kakaoUserId: 'k1',
      plusfriendUserKey: 'pf',
      name: null,
      nameState: 'none',
      nameStateUntil: null,
      forgetUntil: null,
      createdAt: at,
      updatedAt: at,
      ...over.user,
    },
    conversation: {
      id: 'c1',
      userId: 'u1',
      startedAt: at,
      lastActivityAt: new Date(at.getTime() - 60_000),
      endedAt: null,
      crisisKinds: [],
      flaggedAt: null,
      ...over.conversation,
    },
  } satisfies CachedContext
}

describe('context cache', () => {
  test('keys never collide across bots', () => {
    expect(contextKey('a', 'bc')).not.toBe(contextKey('ab', 'c'))
  })

  test('a plain returning user is served, and only within the session', () => {
    const cache = new ContextCache(10)
    cache.set('k', entry())
    expect(cache.get('k', cutoff, null)?.user.id).toBe('u1')
    expect(cache.get('k', cutoff, 'pf')?.user.id).toBe('u1')
    const later = new Date(at.getTime() - 60_000)
    expect(cache.get('k', later, null)).toBeNull()
    // Not served once: forgotten, so the next turn reads.
    expect(cache.size).toBe(0)
  })

  test('states plugins act on by themselves are never served from memory', () => {
    const cases = [
      entry({ user: { nameState: 'awaiting' } }),
      entry({ user: { forgetUntil: new Date(at.getTime() + 60_000) } }),
      entry({ conversation: { endedAt: at } }),
    ]
    for (const e of cases) {
      const cache = new ContextCache(10)
      cache.set('k', e)
      expect(cache.get('k', cutoff, null)).toBeNull()
      expect(cache.size).toBe(0)
    }
  })

  test('a changed plusfriendUserKey is read again', () => {
    const cache = new ContextCache(10)
    cache.set('k', entry())
    expect(cache.get('k', cutoff, 'other')).toBeNull()
  })

  test('bounded: the least recently used entry goes first', () => {
    const cache = new ContextCache(2)
    cache.set('a', entry())
    cache.set('b', entry())
    expect(cache.get('a', cutoff, null)).not.toBeNull()
    cache.set('c', entry())
    expect(cache.size).toBe(2)
    expect(cache.get('b', cutoff, null)).toBeNull()
    expect(cache.get('a', cutoff, null)).not.toBeNull()
    expect(cache.get('c', cutoff, null)).not.toBeNull()
    cache.delete('a')
    expect(cache.get('a', cutoff, null)).toBeNull()
  })

  test('writing an entry again makes it the most recent', () => {
    const cache = new ContextCache(2)
    cache.set('a', entry())
    cache.set('b', entry())
    cache.set('a', entry({ user: { name: '민수' } }))
    cache.set('c', entry())
    expect(cache.get('b', cutoff, null)).toBeNull()
    expect(cache.get('a', cutoff, null)?.user.name).toBe('민수')
  })

  test('capacity 0 remembers nothing', () => {
    const cache = new ContextCache(0)
    cache.set('a', entry())
    expect(cache.size).toBe(0)
    expect(cache.get('a', cutoff, null)).toBeNull()
  })
})
