import { retentionJob } from './retention.ts'
import { summariesJob } from './summaries.ts'
import type { Job } from './types.ts'

/** Every periodic job kbot runs; a new job is one file in this folder and one line here. */
export const JOBS: readonly Job[] = [retentionJob, summariesJob]
