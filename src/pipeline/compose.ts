import type { Next } from './types.ts'

/**
 * Composes handlers into one onion (the turn's at ack time, the answer request's at worker time). Guards the two classic mistakes: calling `next()` twice, and a handler
 * that answers nothing but forgets to await `next()` (the turn would then silently end unanswered).
 */
export function compose<T>(
  handlers: readonly ((subject: T, next: Next) => Promise<void>)[],
): (subject: T) => Promise<void> {
  return (turn) => {
    let last = -1
    const dispatch = async (i: number): Promise<void> => {
      if (i <= last) throw new Error(`next() called more than once in pipeline step ${i - 1}`)
      last = i
      const handler = handlers[i]
      if (!handler) return
      const next: Next = () => dispatch(i + 1)
      await handler(turn, next)
    }
    return dispatch(0)
  }
}
