import * as v from 'valibot'
import { int } from '../fields.ts'

/** `[worker]`: the task queue's workers on this instance. */
export const workerSection = v.optional(
  v.strictObject({
    concurrency: int(0, 1000, 3),
    poll_ms: int(10, 600_000, 2000),
    max_attempts: int(1, 20, 3),
    lease_ms: int(500, 600_000, 10_000),
    /** The callback POST goes out no later than this long before the callbackUrl expires. */
    deadline_margin_ms: int(1000, 60_000, 5000),
    /** A model attempt that would have less time than this before the deadline is not started. */
    min_attempt_ms: int(0, 600_000, 3000),
    shutdown_grace_ms: int(0, 600_000, 10_000),
    /** How often the delivery guard looks for callbacks that must go out now. */
    guard_interval_ms: int(50, 60_000, 500),
  }),
  {},
)
