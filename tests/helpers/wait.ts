/** Waits for a condition with a deadline instead of sleeping and hoping. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${(last as Error).message}` : ''}`,
      )
    }
    await Bun.sleep(opts.intervalMs ?? 20)
  }
}

/**
 * `waitFor` with another default deadline: for files whose conditions hold within a few hundred ms, so that a
 * mutant caught by a missed condition (under Stryker) costs seconds, not the default ten.
 */
export const waitWithin =
  (timeoutMs: number): typeof waitFor =>
  (check, opts = {}) =>
    waitFor(check, { timeoutMs, ...opts })
