// @ts-check
/**
 * Mutation testing of the queue's promises (`bun run mutate`, not in CI: it is slow). Stryker's command runner
 * re-runs `bun test` on the few test files that cover one module at a time; KBOT_MUTATE picks the module
 * (mutation/run.ts loops over all of them). Reports go to reports/mutation/<module>.html (not committed).
 */
/**
 * Per module: the files it mutates and the test runs that cover it, fastest first. Each run is its own
 * `bun test --bail`, chained with &&, so a mutant killed by a fast file never waits for a slow one. The slow
 * Kakao-turn scenarios run on SQLite only here (KBOT_TEST_DIALECTS); the store contract runs on both stores.
 */
const SQLITE = 'KBOT_TEST_DIALECTS=sqlite'
const MODULES = {
  queue: {
    mutate: ['src/queue/runner.ts', 'src/tasks/ai-answer.ts'],
    // The contract files kill nearly all (NOTIFY is faked there, so SQLite is enough); the rest are fallbacks.
    runs: [
      `${SQLITE} tests/integration/queue-runner-contract.test.ts tests/integration/ai-answer-task.test.ts`,
      `${SQLITE} tests/integration/queue-runner.test.ts`,
      `${SQLITE} tests/integration/kakao-turn.test.ts`,
      `${SQLITE} tests/integration/shutdown.test.ts`,
    ],
  },
  delivery: {
    mutate: ['src/delivery/delivery.ts', 'src/delivery/guard.ts', 'src/delivery/callback.ts'],
    runs: [
      `${SQLITE} tests/integration/delivery-guard.test.ts`,
      `${SQLITE} tests/integration/kakao-turn.test.ts`,
    ],
  },
  tasks: {
    mutate: ['src/store/tasks.ts', 'src/store/task-claims.ts', 'src/store/task-delivery.ts'],
    runs: [
      'tests/integration/store.test.ts',
      `${SQLITE} tests/integration/kakao-turn.test.ts`,
      `${SQLITE} tests/integration/retention-cli.test.ts`,
    ],
  },
  ack: {
    // The group statement runs on PostgreSQL only: these files run on both stores.
    mutate: ['src/util/group.ts', 'src/store/turn-enqueue.ts'],
    runs: [
      'tests/unit/group.test.ts',
      'tests/integration/ack-group.test.ts',
      'tests/integration/context-cache.test.ts',
      'tests/integration/rate-limit.test.ts',
    ],
  },
  turn: {
    mutate: ['src/kakao/turn.ts', 'src/kakao/context-cache.ts'],
    runs: [
      `${SQLITE} tests/integration/turn-contract.test.ts`,
      'tests/unit/context-cache.test.ts',
      `${SQLITE} tests/integration/context-cache.test.ts`,
      `${SQLITE} tests/integration/ack-statements.test.ts`,
      `${SQLITE} tests/integration/kakao-http.test.ts`,
      `${SQLITE} tests/integration/kakao-turn.test.ts`,
    ],
  },
}

/** `ENV=x file` → `ENV=x bun test --bail --timeout 60000 file` */
const bunTest = (run) => {
  const parts = run.split(' ')
  const env = parts.filter((p) => p.includes('='))
  const files = parts.filter((p) => !p.includes('='))
  return [...env, 'bun test --bail --timeout 60000', ...files].join(' ')
}

const name = process.env.KBOT_MUTATE ?? 'tasks'
const module = MODULES[/** @type {keyof typeof MODULES} */ (name)]
if (!module) throw new Error(`KBOT_MUTATE must be one of ${Object.keys(MODULES).join(', ')}`)

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'command',
  // KBOT_MUTATE_RUNS (runs separated by ';') replaces the module's test runs for a focused pass.
  commandRunner: {
    command: (process.env.KBOT_MUTATE_RUNS?.split(';') ?? module.runs).map(bunTest).join(' && '),
  },
  coverageAnalysis: 'off',
  // The machine is small and shared; each mutant run starts servers and touches PostgreSQL.
  concurrency: Number(process.env.KBOT_MUTATE_CONCURRENCY ?? 2),
  mutate: process.env.KBOT_MUTATE_FILES ? process.env.KBOT_MUTATE_FILES.split(',') : module.mutate,
  plugins: ['@stryker-mutator/*', './mutation/ignore-logs.mjs'],
  ignorers: ['log-calls'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  // Stryker would rewrite tsconfig.json with TypeScript's JS API, which TypeScript 7 (native) no longer has; Bun
  // reads the sandbox's tsconfig.json as it is, so point Stryker at a file that does not exist.
  tsconfigFile: 'stryker-skips-tsconfig.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  timeoutMS: 20_000,
  ignorePatterns: ['reports', 'bench/results', 'data', 'scratch', 'plugins-local-*'],
}
