/**
 * Group commit for one statement. A call runs at once while fewer than `inFlight` runs are out; calls that
 * come while that many are out wait, and the next free run takes them together (up to `max`), in the order
 * they came: one round trip and one commit for the whole group, however many calls a burst brings. Nothing is
 * delayed on purpose: alone, a call never waits for company.
 *
 * A run out for longer than `stallMs` (waiting on a lock another transaction holds) no longer counts against
 * `inFlight`: the calls behind it go on in another run, up to `maxRunning` runs out in all.
 *
 * `fits` says whether an item may join a group (e.g. one row per user, the same settings for all). When a
 * group's run fails and `split` says so, each member is run again on its own, so that one bad item fails only
 * its own call; `split` is false for failures that would fail them all again (the database is down).
 */
export interface GroupOptions<I, O> {
  inFlight: number
  max: number
  stallMs: number
  maxRunning: number
  run(items: readonly I[]): Promise<O[]>
  fits?(item: I, group: readonly I[]): boolean
  split?(err: unknown): boolean
}

interface Waiting<I, O> {
  item: I
  resolve(out: O): void
  reject(err: unknown): void
}

export class Grouper<I, O> {
  private waiting: Waiting<I, O>[] = []
  /** Runs out, and those of them not yet out for `stallMs`. */
  private running = 0
  private active = 0

  constructor(private readonly opts: GroupOptions<I, O>) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    const { inFlight, maxRunning, stallMs } = this.opts
    while (this.active < inFlight && this.running < maxRunning && this.waiting.length > 0) {
      const group = this.take()
      this.running++
      this.active++
      let stalled = false
      const timer = setTimeout(() => {
        stalled = true
        this.active--
        this.pump()
      }, stallMs)
      void this.runGroup(group).finally(() => {
        clearTimeout(timer)
        this.running--
        if (!stalled) this.active--
        this.pump()
      })
    }
  }

  /** The first waiting call and every later one that fits with it, up to `max`; the rest keep their order. */
  private take(): Waiting<I, O>[] {
    const group: Waiting<I, O>[] = []
    const items: I[] = []
    const rest: Waiting<I, O>[] = []
    for (const w of this.waiting) {
      if (group.length < this.opts.max && (group.length === 0 || (this.opts.fits?.(w.item, items) ?? true))) {
        group.push(w)
        items.push(w.item)
      } else rest.push(w)
    }
    this.waiting = rest
    return group
  }

  private async runGroup(group: Waiting<I, O>[]): Promise<void> {
    try {
      const outs = await this.opts.run(group.map((w) => w.item))
      for (const [i, w] of group.entries()) w.resolve(outs[i]!)
    } catch (err) {
      if (group.length > 1 && (this.opts.split?.(err) ?? false)) {
        await Promise.all(
          group.map((w) =>
            this.opts.run([w.item]).then(
              (outs) => w.resolve(outs[0]!),
              (e: unknown) => w.reject(e),
            ),
          ),
        )
      } else for (const w of group) w.reject(err)
    }
  }
}
