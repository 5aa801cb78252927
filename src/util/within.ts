/**
 * Whether `work` settles within `ms`. Unlike racing Bun.sleep, the timer is cleared as soon as the work is
 * done, so a finished shutdown does not keep the process alive for the rest of the grace period.
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}
