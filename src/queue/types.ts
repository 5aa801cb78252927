import type { Logger } from '../logger.ts'
import type { Db } from '../store/db.ts'
import type { Completion } from '../store/task-claims.ts'
import type { Task } from '../store/tasks.ts'

/** What the pipeline and the HTTP layer see of the queue (plugins enqueue with the store, then `wake()`). */
export interface TaskQueue {
  /** Wakes this instance's workers and, through the database, every other instance. */
  wake(): void
  /**
   * For a statement about to commit a task: the channel to NOTIFY inside it when another instance should
   * claim the task (this one is full or has no workers, and no wake-up went out in the last few ms or a task is
   * still unannounced), else null. A caller that asked calls `committed` once the task is committed.
   */
  notifyChannel?(): string | null
  /**
   * A task was committed by a statement that asked `notifyChannel` first: `carriedSince` is the
   * performance.now() at which it asked when its NOTIFY went out with the commit, else null (then this
   * instance's workers wake, or the others soon). A queue without it is woken (`wake`) instead.
   */
  committed?(carriedSince: number | null): void
  /** Resolves with the task once it is finished (completed or failed), or null after `ms`. */
  waitFor(taskId: string, ms: number): Promise<Task | null>
}

/** How a failed attempt goes on: retried after a backoff, or failed for good. */
export interface FailureInfo {
  retryable: boolean
  /** The server said when to come back (HTTP Retry-After), if it did. */
  retryAfterMs: number | null
  reason: string
}

/** Thrown (or returned by `retryable()`) from a handler: try again after a backoff. */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message)
    this.name = 'RetryableError'
  }
}

/** Thrown (or returned by `final()`) from a handler: no further attempt can succeed. */
export class FinalError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FinalError'
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err))

/** Marks an error as worth another attempt: `throw retryable(err)`. */
export const retryable = (err: unknown, retryAfterMs: number | null = null) =>
  err instanceof RetryableError ? err : new RetryableError(messageOf(err), retryAfterMs)

/** Marks an error as final: `throw final('input is invalid')`. */
export const final = (err: unknown) => (err instanceof FinalError ? err : new FinalError(messageOf(err)))

/**
 * The default classification: errors marked with `retryable()`/`final()` say so; anything else is retried
 * (a handler that knows better classifies its own errors, as ai_answer does with the model's).
 */
export function classifyTaskError(err: unknown): FailureInfo {
  if (err instanceof FinalError) return { retryable: false, retryAfterMs: null, reason: err.message }
  if (err instanceof RetryableError)
    return { retryable: true, retryAfterMs: err.retryAfterMs, reason: err.message }
  return { retryable: true, retryAfterMs: null, reason: messageOf(err) }
}

/** The fields a handler may record when it completes (ai_answer records the answer). */
export type CompletionFields = Omit<Completion, 'id' | 'owner' | 'now'>

export interface TaskContext {
  /** Aborted when this worker loses the task's lease (another one took it over) or on shutdown. */
  signal: AbortSignal
  /** A child logger with taskId, kind and attempt. */
  log: Logger
  /** The lease owner of this attempt; every write about the task is fenced by it. */
  owner: string
  /**
   * Completes the task in one transaction together with what `write` stores (messages, logs …). Returns null,
   * and rolls `write` back, when the lease was lost: a late worker never overwrites a reclaimed task.
   */
  complete(write?: (tx: Db) => Promise<CompletionFields | undefined>): Promise<Task | null>
  /** Work that outlives the attempt (a callback POST): it does not hold the slot; shutdown waits for it. */
  background(work: Promise<void>): void
}

/**
 * One kind of task. The runner claims, leases, retries and shuts down; the handler only does the work.
 * `run` resolves after `ctx.complete(…)`; when it resolves without completing, the runner completes the task.
 * A thrown error is classified with `classify` (default: `classifyTaskError`), then retried with backoff
 * while attempts remain, else the task fails.
 *
 * @example
 *   export const echoHandler = defineTaskHandler<{ text: string }>({
 *     kind: 'echo',
 *     async run(task, ctx) {
 *       if (!task.input.text) throw final('nothing to echo')
 *       ctx.log.info({ text: task.input.text }, 'echo')
 *       await ctx.complete()
 *     },
 *   })
 */
export interface TaskHandler<I = unknown> {
  /** Stored in aiprocessingtask.kind; snake_case. */
  kind: string
  /** Attempts for tasks enqueued through `queue.enqueue` (default 3). */
  maxAttempts?: number
  /** EDF deadline for tasks enqueued through `queue.enqueue`, from now (default one hour): never starves callbacks. */
  deadlineMs?: number
  run(task: Task<I>, ctx: TaskContext): Promise<void>
  classify?(err: unknown): FailureInfo
  /** The delay before the next attempt; default: exponential backoff, never past the task's deadline. */
  backoffMs?(task: Task<I>, info: FailureInfo): number
  /** After a retry was scheduled (fenced: only the lease holder gets here). */
  onRetry?(task: Task<I>, info: { runAfter: Date; reason: string }, ctx: TaskContext): void
  /** After the task failed for good (also when attempts ran out because workers died). */
  onFailed?(task: Task<I>, ctx: Pick<TaskContext, 'log' | 'background'>): void
  /** After `ctx.complete` succeeded. */
  onCompleted?(task: Task<I>, ctx: TaskContext): void
}

/** Identity, for type inference of `input`. Adding a kind is one file that exports one of these. */
export const defineTaskHandler = <I>(handler: TaskHandler<I>): TaskHandler<I> => handler
